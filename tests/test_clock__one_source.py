"""The product reads business time from one place: orchestration.clock."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from orchestration import clock as engine_clock

PRODUCT = ("orchestration", "accounts", "tasks_ui", "config")
SIDE_CLOCKS = re.compile(r"timezone\.now|datetime\.now\(|datetime\.utcnow|date\.today\(")


def test_no_module_reads_the_time_on_the_side() -> None:
    offenders = []
    for app in PRODUCT:
        for path in sorted((Path(settings.BASE_DIR) / app).rglob("*.py")):
            # Migrations keep the defaults of their day; clock.py is the source.
            if "migrations" in path.parts or path == Path(engine_clock.__file__):
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if SIDE_CLOCKS.search(line) and not line.lstrip().startswith("#"):
                    offenders.append(
                        f"{path.relative_to(settings.BASE_DIR)}:{number}: {line.strip()}"
                    )
    assert offenders == []


def test_an_installed_source_is_what_every_reader_sees(clock) -> None:
    from orchestration.models import ProcessInstance

    assert clock.now == clock()
    field = ProcessInstance._meta.get_field("created_at")
    assert field.get_default() == clock.now
    clock.advance(minutes=5)
    assert field.get_default() == clock.now
    assert engine_clock.now() == clock.now
