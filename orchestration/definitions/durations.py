"""Durations: `30s`, `5m`, `2h`, `3d`, `1w` and ISO 8601 (`PT30S`, `P1DT2H`)."""

from __future__ import annotations

import re
from datetime import timedelta

# Keep in step with $defs.duration.pattern in definition.schema.json (tested).
_SHORT = re.compile(r"^(\d+)(s|m|h|d|w)$")
_ISO = re.compile(
    r"^P(?!$)(?:(\d+)W)?(?:(\d+)D)?(?:T(?=\d)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Parse a duration; raise ValueError for anything else (months and years are
    not fixed lengths and are refused)."""
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}")
    short = _SHORT.match(text)
    if short:
        return timedelta(**{_UNITS[short.group(2)]: int(short.group(1))})
    iso = _ISO.match(text)
    if iso and text not in {"PT"}:
        weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in iso.groups())
        return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise ValueError(f"invalid duration {text!r}")
