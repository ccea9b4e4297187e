"""Relative times, read against the engine's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tasks_ui.templatetags.when import overdue, when


@pytest.mark.parametrize(
    ("offset", "words"),
    [(timedelta(days=2, hours=3), "in 2 days"), (timedelta(hours=1), "in 1 hour"),
     (timedelta(seconds=20), "in less than a minute"), (-timedelta(minutes=5), "5 minutes ago"),
     (-timedelta(days=400), "1 year ago"), (-timedelta(days=9), "1 week ago"),
     (timedelta(days=2, seconds=-10), "in 2 days")],
)  # fmt: skip
def test_when_reads_relative_to_the_engines_clock(clock, offset, words) -> None:
    html = when(clock() + offset)
    assert f">{words}</time>" in html and 'title="' in html
    assert overdue(clock() + offset) is (offset < timedelta(0))
    assert when(None) == "—"
