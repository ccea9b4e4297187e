"""The shipped translations (locale/<lang>/LC_MESSAGES/django.po), compiled to
the .mo files Django reads whenever a .po is newer: in pure Python (polib), so
a fresh machine needs no GNU gettext. manage.py runs it before every command;
the test suite before it starts."""

from __future__ import annotations

import sys
from pathlib import Path


def compile_stale(root: Path) -> list[Path]:
    """Compile every .po newer than its .mo; the .mo files written."""
    written: list[Path] = []
    for po in sorted(root.glob("locale/*/LC_MESSAGES/django.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        try:
            import polib
        except ImportError:  # an environment its caller manages, without polib
            print(f"polib is missing: {po} is not compiled", file=sys.stderr)
            return written
        polib.pofile(str(po)).save_as_mofile(str(mo))
        written.append(mo)
    return written
