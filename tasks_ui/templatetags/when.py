"""`{{ moment|when }}`: a time as people read it, relative to the engine's clock
("in 2 days", "3 hours ago"), with the exact time in their own zone on hover
and in the markup for machines, in the reader's language. Hand-rolled rather
than Django's timesince: a list shows two per row, and timesince's machinery
cost a third of the inbox's render time (bench/inbox.py); this asks gettext
for one phrase per time shown."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext

from orchestration import clock

register = template.Library()

_UNITS = ((365 * 86400, "year"), (30 * 86400, "month"), (7 * 86400, "week"), (86400, "day"),
          (3600, "hour"), (60, "minute"))  # fmt: skip


def _span(seconds: float, ahead: bool) -> str:
    # Rounded to the nearest whole unit: a task due in two days, seen a minute
    # after it opened, is due "in 2 days", not "in 1 day" (1 day 23:59).
    seconds = round(seconds / 60) * 60
    for size, name in _UNITS:
        if seconds >= size:
            n = max(1, round(seconds / size))
            return (_future if ahead else _past)[name](n)
    return gettext("in less than a minute") if ahead else gettext("less than a minute ago")


# Whole phrases, as languages put "in" and "ago" (and their cases) differently.
_future = {
    "year": lambda n: ngettext("in %(n)d year", "in %(n)d years", n) % {"n": n},
    "month": lambda n: ngettext("in %(n)d month", "in %(n)d months", n) % {"n": n},
    "week": lambda n: ngettext("in %(n)d week", "in %(n)d weeks", n) % {"n": n},
    "day": lambda n: ngettext("in %(n)d day", "in %(n)d days", n) % {"n": n},
    "hour": lambda n: ngettext("in %(n)d hour", "in %(n)d hours", n) % {"n": n},
    "minute": lambda n: ngettext("in %(n)d minute", "in %(n)d minutes", n) % {"n": n},
}
_past = {
    "year": lambda n: ngettext("%(n)d year ago", "%(n)d years ago", n) % {"n": n},
    "month": lambda n: ngettext("%(n)d month ago", "%(n)d months ago", n) % {"n": n},
    "week": lambda n: ngettext("%(n)d week ago", "%(n)d weeks ago", n) % {"n": n},
    "day": lambda n: ngettext("%(n)d day ago", "%(n)d days ago", n) % {"n": n},
    "hour": lambda n: ngettext("%(n)d hour ago", "%(n)d hours ago", n) % {"n": n},
    "minute": lambda n: ngettext("%(n)d minute ago", "%(n)d minutes ago", n) % {"n": n},
}


def _relative(moment: datetime) -> str:
    delta = (moment - clock.now()).total_seconds()
    return _span(delta, True) if delta >= 0 else _span(-delta, False)


def _exact(moment: datetime) -> str:
    """In the reader's zone and language (config/formats/<language>)."""
    local = timezone.localtime(moment)
    return f"{date_format(local, 'DATETIME_FORMAT')} {local.tzname()}"


@register.filter
def when(moment: datetime | None) -> SafeString | str:
    if moment is None:
        return "—"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', moment.isoformat(), _exact(moment),
        _relative(moment),
    )  # fmt: skip


@register.filter
def exact(moment: datetime | None) -> SafeString | str:
    """The exact time in the reader's zone, the relative time beside it."""
    if moment is None:
        return "—"
    return format_html('<time datetime="{}">{}</time> <span class="muted">({})</span>',
                       moment.isoformat(), _exact(moment), _relative(moment))  # fmt: skip


@register.filter
def overdue(moment: datetime | None) -> bool:
    return moment is not None and moment < clock.now()
