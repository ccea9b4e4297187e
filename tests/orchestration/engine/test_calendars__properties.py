"""Business-calendar arithmetic over generated starts and durations: the result
lands in working time, on a working day, after exactly the working time asked
for, later for more, and as plain time on a calendar of every hour."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from orchestration.engine.calendars import add_working_time, is_working_day

CALENDARS = [
    {"timezone": "Europe/Paris", "hours": "09:00-17:00", "holidays": "FR"},
    {"timezone": "America/New_York", "hours": "08:30-16:45", "holidays": "US-NY"},
    {"timezone": "Asia/Tokyo", "days": ["tue", "thu", "sat"], "hours": "10:00-12:00"},
    {"timezone": "UTC", "hours": "00:00-24:00", "days": ["mon", "wed"]},
]
STARTS = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2034, 12, 31),
                      timezones=st.just(UTC))  # fmt: skip
# Hours, minutes and seconds below a day (a duration's days are working days).
HOURS = st.integers(0, 86399).map(lambda s: timedelta(seconds=s))
DAYS = st.integers(0, 30)


def hours_of(calendar: dict) -> tuple[time, timedelta]:
    start, end = calendar["hours"].split("-")
    hour, minute = map(int, end.split(":"))
    return time.fromisoformat(start), timedelta(hours=hour, minutes=minute)


def working_time(a: datetime, b: datetime, calendar: dict) -> timedelta:
    """Working time between two moments, added up day by day (a reference; in
    timedeltas, exact: seconds as floats lost a microsecond now and then)."""
    zone = ZoneInfo(calendar["timezone"])
    opening, closing = hours_of(calendar)
    total, day = timedelta(0), a.astimezone(zone).date()
    while day <= b.astimezone(zone).date():
        if is_working_day(day, calendar):
            start = datetime.combine(day, opening, zone)
            end = datetime.combine(day, time.min, zone) + closing
            lo, hi = max(start, a), min(end, b)
            if hi > lo:
                total += hi.astimezone(UTC) - lo.astimezone(UTC)
        day += timedelta(days=1)
    return total


def in_working_time(moment: datetime, calendar: dict) -> bool:
    local = moment.astimezone(ZoneInfo(calendar["timezone"]))
    opening, closing = hours_of(calendar)
    since_midnight = datetime.combine(local.date(), local.timetz()) - datetime.combine(
        local.date(), time.min, local.tzinfo
    )
    opens = timedelta(hours=opening.hour, minutes=opening.minute)
    return is_working_day(local.date(), calendar) and opens <= since_midnight <= closing


def working_days_between(a: date, b: date, calendar: dict) -> int:
    return sum(is_working_day(a + timedelta(days=n), calendar) for n in range(1, (b - a).days + 1))


@given(st.sampled_from(CALENDARS), STARTS, HOURS)
def test_hours_land_in_working_time_after_exactly_that_much_of_it(calendar, start, span) -> None:
    end = add_working_time(start, span, calendar)
    assert end >= start
    assert in_working_time(end, calendar)
    assert working_time(start, end, calendar) == span


@given(st.sampled_from(CALENDARS[:3]), STARTS, DAYS)
def test_whole_days_are_working_days_at_the_same_time_of_day(calendar, start, days) -> None:
    zone = ZoneInfo(calendar["timezone"])
    first = add_working_time(start, timedelta(0), calendar).astimezone(zone)
    end = add_working_time(start, timedelta(days=days), calendar).astimezone(zone)
    assert end.time() == first.time()
    assert is_working_day(end.date(), calendar)
    assert working_days_between(first.date(), end.date(), calendar) == days


@given(st.sampled_from(CALENDARS), STARTS, DAYS, DAYS, HOURS, HOURS)
def test_more_working_time_never_ends_earlier(calendar, start, d1, d2, h1, h2) -> None:
    (d1, d2), (h1, h2) = sorted([d1, d2]), sorted([h1, h2])
    early = add_working_time(start, timedelta(days=d1) + h1, calendar)
    late = add_working_time(start, timedelta(days=d2) + h2, calendar)
    assert early <= late


ALWAYS = {"timezone": "UTC", "hours": "00:00-24:00",
          "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}  # fmt: skip


@given(STARTS, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)))
def test_a_calendar_of_every_hour_agrees_with_plain_time(start, span) -> None:
    assert add_working_time(start, span, ALWAYS) == start + span


@given(STARTS, HOURS)
def test_holidays_are_never_working_time(start, span) -> None:
    # Around Christmas and New Year in Paris: 25 Dec and 1 Jan are holidays.
    start = start.replace(month=12, day=24, hour=16)
    end = add_working_time(start, span, CALENDARS[0])
    local = end.astimezone(ZoneInfo("Europe/Paris")).date()
    assert (local.month, local.day) not in {(12, 25), (1, 1)}
