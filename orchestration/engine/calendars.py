"""Working time: `due` and escalation `after` in a definition with a `calendar`.

With a calendar, the days of a duration are working days (`2d` from Friday
15:00 is Tuesday 15:00; `1w` is seven working days) and its hours, minutes and
seconds are working hours (`2h` from Friday 16:00, with hours 09:00-17:00, is
Monday 10:00). Working days are the calendar's `days` (default Monday to
Friday) that are not holidays of its `holidays` country; working hours its
`hours` (default 09:00-17:00), in its `timezone`. A start outside working time
counts from the next working moment. A definition without a calendar uses the
site's (ORCHESTRATION_CALENDAR), if one is set. Pure functions apart from
`calendar_of`: the core calls them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from django.conf import settings

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_DAYS = DAYS[:5]
DEFAULT_HOURS = "09:00-17:00"
# A calendar with no working day at all would never reach a deadline.
_SEARCH_DAYS = 3660


def calendar_of(spec: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The calendar a definition's times count in: its own, else the site's
    default, else none (calendar time). The default is read when a task opens,
    so a changed default applies to tasks opened after the change."""
    own = spec.get("calendar")
    site: Mapping[str, Any] | None = settings.ORCHESTRATION_CALENDAR
    return own if own else site


@lru_cache(maxsize=64)
def _holidays(country: str) -> Any:
    code, _, subdiv = country.partition("-")
    return holidays.country_holidays(code, subdiv=subdiv or None)


def _hours(calendar: Mapping[str, Any]) -> tuple[time, timedelta]:
    """Opening time, and closing as an offset from midnight (24:00 is the next
    midnight, not 23:59:59.999999: a working day that long loses nothing)."""
    start, end = calendar.get("hours", DEFAULT_HOURS).split("-")
    hour, minute = (int(part) for part in end.split(":"))
    return time.fromisoformat(start), timedelta(hours=hour, minutes=minute)


def _closing(day: date, closing: timedelta, zone: Any) -> datetime:
    return datetime.combine(day, time.min, zone) + closing


def is_working_day(day: date, calendar: Mapping[str, Any]) -> bool:
    if DAYS[day.weekday()] not in calendar.get("days", DEFAULT_DAYS):
        return False
    return not ("holidays" in calendar and day in _holidays(calendar["holidays"]))


def _next_working_start(moment: datetime, calendar: Mapping[str, Any]) -> datetime:
    """`moment` if it is working time, else the next opening."""
    opening, closing = _hours(calendar)
    day = moment.date()
    for _ in range(_SEARCH_DAYS):
        if is_working_day(day, calendar):
            start = datetime.combine(day, opening, moment.tzinfo)
            end = _closing(day, closing, moment.tzinfo)
            if moment < start:
                return start
            if moment < end:
                return moment
        day += timedelta(days=1)
        moment = datetime.combine(day, time.min, moment.tzinfo)
    raise ValueError("the calendar has no working time")


def add_working_time(start: datetime, duration: timedelta, calendar: Mapping[str, Any]) -> datetime:
    """`start` plus `duration` counted in the calendar's working days and hours."""
    zone = ZoneInfo(calendar["timezone"])
    _, closing = _hours(calendar)
    moment = _next_working_start(start.astimezone(zone), calendar)
    for _ in range(duration.days):
        day = moment.date() + timedelta(days=1)
        while not is_working_day(day, calendar):
            day += timedelta(days=1)
        moment = _next_working_start(datetime.combine(day, moment.timetz()), calendar)
    left = timedelta(seconds=duration.seconds, microseconds=duration.microseconds)
    while left > timedelta(0):
        end = _closing(moment.date(), closing, zone)
        if moment + left <= end:
            moment += left
            break
        left -= end - moment
        moment = _next_working_start(end, calendar)
    return moment.astimezone(start.tzinfo)


def deadline(now: datetime, duration: str, calendar: Mapping[str, Any] | None) -> datetime:
    """When `duration` from `now` ends: in working time when there is a calendar."""
    from orchestration.definitions.durations import parse_duration

    span = parse_duration(duration)
    return add_working_time(now, span, calendar) if calendar else now + span
