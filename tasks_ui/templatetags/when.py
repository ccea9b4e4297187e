"""`{{ moment|when }}`: a time as people read it, relative to the engine's clock
("in 2 days", "3 hours ago"), with the exact time in their own zone on hover
and in the markup for machines."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timesince import timesince, timeuntil

from orchestration import clock

register = template.Library()


@register.filter
def when(moment: datetime | None) -> SafeString | str:
    if moment is None:
        return "—"
    now = clock.now()
    local = timezone.localtime(moment)
    if moment >= now:
        words = f"in {timeuntil(moment, now, depth=1)}"
    else:
        words = f"{timesince(moment, now, depth=1)} ago"
    words = words.replace("\xa0", " ")
    exact = f"{local:%a} {local.day} {local:%b %Y %H:%M} {local.tzname()}"
    return format_html('<time datetime="{}" title="{}">{}</time>', moment.isoformat(), exact, words)


@register.filter
def overdue(moment: datetime | None) -> bool:
    return moment is not None and moment < clock.now()
