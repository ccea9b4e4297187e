"""Durations (orchestration.definitions.durations): both spellings, the cap to
the second, and everything else refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration.definitions.durations import DurationError, max_days, parse_duration

CAP = timedelta(days=3650)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)), ("2h", timedelta(hours=2)),
     ("3d", timedelta(days=3)), ("1w", timedelta(weeks=1)), ("0s", timedelta(0)),
     ("PT30S", timedelta(seconds=30)), ("P1DT2H", timedelta(days=1, hours=2)),
     ("P2W", timedelta(weeks=2)), ("PT1.5S", timedelta(seconds=1.5)),
     ("P1W2DT3H4M5S", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
     ("PT90M", timedelta(minutes=90))],
)  # fmt: skip
def test_both_spellings(text, expected) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "P", "PT", "P1DT", "1", "s", "1.5h", "2 h", "1y", "P1M", "P1Y", "PT1H2", "-1d",
     "1h30m", "p1d", "P1D ", " 1d", "\u0661d", "PT1.S", "P1.5D"],
)  # fmt: skip
def test_anything_else_is_refused_naming_the_value(text) -> None:
    with pytest.raises(DurationError) as refused:
        parse_duration(text)
    assert str(refused.value) == f"invalid duration {text!r}"


@pytest.mark.parametrize("value", [None, 30, 1.5, ["1d"]])
def test_only_text_is_a_duration(value) -> None:
    with pytest.raises(DurationError, match=r"^invalid duration "):
        parse_duration(value)


@pytest.mark.parametrize("text", ["3650d", "87600h", "P3650D", "5256000m", "PT87600H"])
def test_exactly_the_cap_is_accepted(text) -> None:
    assert parse_duration(text) == CAP


@pytest.mark.parametrize(
    "text", ["3651d", "87601h", "P3650DT1S", "P3650DT1H", "315360001s", "P522W",
             "99999999999999999999w", "P99999999999999999999D"],
)  # fmt: skip
def test_just_over_the_cap_is_refused(text) -> None:
    with pytest.raises(DurationError) as refused:
        parse_duration(text)
    assert str(refused.value) == "at most 3650d (ORCHESTRATION_MAX_DURATION_DAYS)"


def test_the_cap_is_a_setting(settings) -> None:
    settings.ORCHESTRATION_MAX_DURATION_DAYS = 2
    assert max_days() == 2
    assert parse_duration("48h") == timedelta(days=2)
    with pytest.raises(DurationError, match=r"^at most 2d "):
        parse_duration("P2DT1S")


@given(st.integers(0, 10**12), st.sampled_from(sorted(UNITS)))
def test_a_short_duration_is_its_number_of_units_or_over_the_cap(number, unit) -> None:
    text = f"{number}{unit}"
    seconds = number * UNITS[unit]
    if seconds <= CAP.total_seconds():
        assert parse_duration(text) == timedelta(seconds=seconds)
    else:
        with pytest.raises(DurationError, match=r"^at most 3650d "):
            parse_duration(text)


# Parts that stay under the cap together (400 weeks is 2,800 days).
@given(st.lists(st.integers(0, 400) | st.none(), min_size=5, max_size=5).filter(
    lambda parts: any(p is not None for p in parts)
))  # fmt: skip
def test_an_iso_duration_adds_up_its_parts(parts) -> None:
    weeks, days, hours, minutes, seconds = parts
    text = "P" + "".join(f"{v}{u}" for v, u in ((weeks, "W"), (days, "D")) if v is not None)
    clock = "".join(f"{v}{u}" for v, u in ((hours, "H"), (minutes, "M"), (seconds, "S"))
                    if v is not None)  # fmt: skip
    if clock:
        text += "T" + clock
    expected = timedelta(weeks=weeks or 0, days=days or 0, hours=hours or 0,
                         minutes=minutes or 0, seconds=seconds or 0)  # fmt: skip
    assert parse_duration(text) == expected
