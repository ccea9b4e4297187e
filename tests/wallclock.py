"""A pytest plugin that runs the suite with the wall clock moved.

`python3 manage.py test --shift-wall-clock=365` (or -365) starts the run as if
the machine's clock said a year later (earlier) and lets it tick from there,
through time-machine, so Django's `timezone.now()`, `datetime.now()` and
`time.time()` all agree on the moved instant. It shows that the suite does not
depend on the day it runs: nothing in it may hard-code a date that real time
overtakes. Always loaded (pyproject's addopts); it does nothing without the option.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--shift-wall-clock",
        type=float,
        default=None,
        metavar="DAYS",
        help="run with the wall clock moved by DAYS (negative: into the past), ticking",
    )


def pytest_configure(config: pytest.Config) -> None:
    days = config.getoption("shift_wall_clock", None)
    if not days:
        return
    import time_machine

    traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
    traveller.start()
    config.add_cleanup(traveller.stop)


def pytest_report_header(config: pytest.Config) -> str | None:
    days = config.getoption("shift_wall_clock", None)
    if not days:
        return None
    return f"wall clock shifted by {days:+g} days: it reads {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
