"""How long an ended instance's personal data is kept: the definition's
`retention`, else the site's ORCHESTRATION_RETENTION; "forever" keeps it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings

from orchestration.definitions.durations import parse_duration

FOREVER = "forever"


def parse(text: str) -> timedelta | None:
    """A retention as the definition format writes it (None: forever).
    Raises DurationError for anything else."""
    return None if text == FOREVER else parse_duration(text)


def site_retention() -> timedelta | None:
    return parse(settings.ORCHESTRATION_RETENTION)


def retention_of(spec: Mapping[str, Any]) -> timedelta | None:
    own = spec.get("retention")
    return parse(own) if isinstance(own, str) else site_retention()


def label(spec: Mapping[str, Any]) -> str:
    """The rule as the markers and the audit name it: "retention 30d (definition)"."""
    own = spec.get("retention")
    if isinstance(own, str):
        return f"retention {own} (definition)"
    return f"retention {settings.ORCHESTRATION_RETENTION} (ORCHESTRATION_RETENTION)"
