"""Working time across nights, weekends and holidays (fixed dates: pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from orchestration.engine.calendars import add_working_time, calendar_of, deadline

PARIS = ZoneInfo("Europe/Paris")
FR = {"timezone": "Europe/Paris", "hours": "09:00-17:00", "holidays": "FR"}


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("start", "duration", "expected"),
    [
        # Friday 16:00 + 2 working hours: Monday 10:00.
        (at(2026, 11, 27, 16), timedelta(hours=2), at(2026, 11, 30, 10)),
        # Friday 15:00 + 2 working days: Tuesday 15:00.
        (at(2026, 11, 27, 15), timedelta(days=2), at(2026, 12, 1, 15)),
        # Saturday: counts from Monday's opening.
        (at(2026, 11, 28, 12), timedelta(hours=1), at(2026, 11, 30, 10)),
        # Before opening: from 09:00 the same day.
        (at(2026, 12, 1, 7), timedelta(hours=3), at(2026, 12, 1, 12)),
        # Across a holiday: Thursday 24 Dec + 1 working day skips Christmas (Fri 25)
        # and the weekend: Monday 28 Dec.
        (at(2026, 12, 24, 10), timedelta(days=1), at(2026, 12, 28, 10)),
        # A whole working day of hours from 09:00 ends at 17:00 the same day.
        (at(2026, 12, 1, 9), timedelta(hours=8), at(2026, 12, 1, 17)),
        # 9 hours from 09:00: 17:00 plus one hour of the next working day.
        (at(2026, 12, 1, 9), timedelta(hours=9), at(2026, 12, 2, 10)),
    ],
)
def test_working_time(start, duration, expected) -> None:
    assert add_working_time(start, duration, FR) == expected


def test_the_result_keeps_the_time_zone_of_the_start() -> None:
    start = datetime(2026, 11, 27, 15, tzinfo=UTC)  # 16:00 in Paris, a Friday
    end = add_working_time(start, timedelta(hours=2), FR)
    assert end.tzinfo == UTC and end == datetime(2026, 11, 30, 9, tzinfo=UTC)


def test_working_days_come_from_the_calendar() -> None:
    weekend = {"timezone": "UTC", "days": ["sat", "sun"], "hours": "10:00-12:00"}
    start = datetime(2026, 12, 1, 10, tzinfo=UTC)  # a Tuesday
    assert add_working_time(start, timedelta(hours=3), weekend) == datetime(
        2026, 12, 6, 11, tzinfo=UTC
    )


def test_without_a_calendar_a_deadline_is_plain_time() -> None:
    start = datetime(2026, 11, 27, 16, tzinfo=UTC)  # 17:00 in Paris: closed
    assert deadline(start, "2h", None) == start + timedelta(hours=2)
    assert deadline(start, "2h", FR) == datetime(2026, 11, 30, 11, tzinfo=PARIS)


@pytest.mark.parametrize("duration", ["2d", "5h", "1w", "P1DT2H30M", "90s"])
def test_a_calendar_of_every_hour_of_every_day_is_plain_time(duration) -> None:
    from orchestration.definitions.durations import parse_duration

    always = {"timezone": "UTC", "hours": "00:00-24:00",
              "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}  # fmt: skip
    start = datetime(2030, 12, 27, 21, 15, tzinfo=UTC)  # a Friday, before New Year
    assert deadline(start, duration, always) == start + parse_duration(duration)


def test_a_calendar_without_hours_works_nine_to_five() -> None:
    plain = {"timezone": "Europe/Paris"}
    assert add_working_time(at(2026, 12, 1, 16), timedelta(hours=2), plain) == at(2026, 12, 2, 10)


def test_a_calendar_with_no_working_day_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^the calendar has no working time$"):
        add_working_time(at(2026, 12, 1, 16), timedelta(hours=1),
                         {"timezone": "UTC", "days": []})  # fmt: skip


def test_the_result_is_in_the_zone_the_start_was_given_in() -> None:
    end = add_working_time(at(2026, 11, 27, 16), timedelta(hours=2), FR)
    assert end.tzinfo is PARIS and end.hour == 10


def test_a_definitions_own_calendar_wins_over_the_sites(settings) -> None:
    settings.ORCHESTRATION_CALENDAR = {"timezone": "UTC"}
    assert calendar_of({"calendar": FR}) is FR
    assert calendar_of({}) == {"timezone": "UTC"}
    assert calendar_of({"calendar": None}) == {"timezone": "UTC"}
    settings.ORCHESTRATION_CALENDAR = None
    assert calendar_of({}) is None
