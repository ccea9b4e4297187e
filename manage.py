#!/usr/bin/env python3
"""Django's command-line utility, with a bootstrap for a fresh clone.

Run with any python3 >= 3.11: when no virtual environment is active, the
bootstrap creates `.venv`, installs the pinned `requirements.lock` into it
(again whenever the lock changes) and re-runs this command inside it. So
`python3 manage.py demo` and `python3 manage.py test` work on a fresh clone.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements.lock"
STAMP = VENV / ".requirements.lock.sha256"


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _bootstrap() -> None:
    if sys.version_info < (3, 11):
        sys.exit("Python >= 3.11 is required, this is " + sys.version.split()[0])
    own_venv = Path(sys.prefix).resolve() == VENV.resolve()
    foreign_venv = sys.prefix != sys.base_prefix and not own_venv
    if foreign_venv or os.environ.get("PROCESS_ENGINE_NO_BOOTSTRAP"):
        return  # the caller manages its own environment
    if not _venv_python().exists():
        print("Creating virtual environment in .venv ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    wanted = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text().strip() != wanted:
        print("Installing pinned dependencies from requirements.lock ...", file=sys.stderr)
        pip = [str(_venv_python()), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run([*pip, "install", "--require-hashes", "-r", str(LOCK)], check=True)
        STAMP.write_text(wanted)
    if not own_venv:
        python = str(_venv_python())
        os.execv(python, [python, str(ROOT / "manage.py"), *sys.argv[1:]])


def main() -> None:
    _bootstrap()
    from config.translations import compile_stale

    compile_stale(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
