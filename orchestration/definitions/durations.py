"""Durations: `30s`, `5m`, `2h`, `3d`, `1w` and ISO 8601 (`PT30S`, `P1DT2H`).

Every duration is at most ORCHESTRATION_MAX_DURATION_DAYS long (default 3650,
about ten years): a timeout of 600000 weeks would pass any pattern and then
overflow the first date it is added to.
"""

from __future__ import annotations

import re
from datetime import timedelta

# Keep in step with $defs.duration.pattern in definition.schema.json (tested).
# ASCII digits only: `\d` alone would also read "\u0661d" (an Arabic-Indic one) as a day.
_SHORT = re.compile(r"^(\d+)(s|m|h|d|w)$", re.ASCII)
_ISO = re.compile(
    r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$",
    re.ASCII,
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class DurationError(ValueError):
    """Not a duration this format accepts, or longer than the cap."""


def max_days() -> int:
    from django.conf import settings

    return int(settings.ORCHESTRATION_MAX_DURATION_DAYS)


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise DurationError for anything else (months and years
    are not fixed lengths and are refused) or for one beyond the cap."""
    if not isinstance(text, str):
        raise DurationError(f"invalid duration {text!r}")
    try:
        value = _parse(text)
    except OverflowError:
        value = None
    cap = max_days()
    if value is None or value > timedelta(days=cap):
        raise DurationError(f"at most {cap}d (ORCHESTRATION_MAX_DURATION_DAYS)")
    return value


def _parse(text: str) -> timedelta:
    short = _SHORT.match(text)
    if short:
        return timedelta(**{_UNITS[short.group(2)]: int(short.group(1))})
    iso = _ISO.match(text)
    if iso:  # "P" and "PT" alone do not match: P needs a part, T a digit after it
        weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in iso.groups())
        return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise DurationError(f"invalid duration {text!r}")
