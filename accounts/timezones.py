"""A person's time zone: how due times are shown to them.

Times are stored in UTC; each user's `timezone` (an IANA name such as
`Europe/Berlin`) says how to show them. Pages activate it per request; emails,
rendered by the worker for many readers, format each reader's copy with it.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError


@lru_cache(maxsize=256)
def _known(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def validate_timezone(name: str) -> None:
    if _known(name) is None:
        raise ValidationError(
            "%(name)r is not a time zone (use an IANA name such as Europe/Berlin)",
            code="timezone",
            params={"name": name},
        )


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """The named zone; the site's TIME_ZONE for a blank or unknown name (a row
    written before validation, or a zone the system's database dropped)."""
    found = _known(name) if name else None
    return found or zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_text(moment: datetime, name: str | None) -> str:
    """`moment` as the reader with time zone `name` reads it, zone named:
    "Fri 4 Dec 2026 17:00 EST (America/New_York)"."""
    from django.utils.formats import date_format

    where = zone(name)
    local = moment.astimezone(where)
    # In the active language's format (config/formats/<lang>): emails are
    # rendered under each reader's language.
    return f"{date_format(local, 'DATETIME_FORMAT')} {local.tzname()} ({where.key})"


def is_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this machine knows."""
    return isinstance(name, str) and _known(name) is not None
