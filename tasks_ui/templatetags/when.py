"""`{{ moment|when }}`: a time as people read it, relative to the engine's clock
("in 2 days", "3 hours ago"), with the exact time in their own zone on hover
and in the markup for machines. Hand-rolled rather than Django's timesince:
a list shows two per row, and timesince's translation machinery cost a third
of the inbox's render time (bench/inbox.py)."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from orchestration import clock

register = template.Library()

_UNITS = ((365 * 86400, "year"), (30 * 86400, "month"), (7 * 86400, "week"), (86400, "day"),
          (3600, "hour"), (60, "minute"))  # fmt: skip


def _span(seconds: float) -> str:
    # Rounded to the nearest whole unit: a task due in two days, seen a minute
    # after it opened, is due "in 2 days", not "in 1 day" (1 day 23:59).
    seconds = round(seconds / 60) * 60
    for size, name in _UNITS:
        if seconds >= size:
            n = max(1, round(seconds / size))
            return f"{n} {name}{'' if n == 1 else 's'}"
    return "less than a minute"


@register.filter
def when(moment: datetime | None) -> SafeString | str:
    if moment is None:
        return "—"
    delta = (moment - clock.now()).total_seconds()
    words = f"in {_span(delta)}" if delta >= 0 else f"{_span(-delta)} ago"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', moment.isoformat(), _exact(moment), words
    )


def _exact(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"


@register.filter
def exact(moment: datetime | None) -> SafeString | str:
    """The exact time in the reader's zone, the relative time beside it."""
    if moment is None:
        return "—"
    delta = (moment - clock.now()).total_seconds()
    words = f"in {_span(delta)}" if delta >= 0 else f"{_span(-delta)} ago"
    return format_html('<time datetime="{}">{}</time> <span class="muted">({})</span>',
                       moment.isoformat(), _exact(moment), words)  # fmt: skip


@register.filter
def overdue(moment: datetime | None) -> bool:
    return moment is not None and moment < clock.now()
