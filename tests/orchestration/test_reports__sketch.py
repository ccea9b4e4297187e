"""Durations in log-scale buckets: percentiles within a bucket of the truth,
and days that add up."""

from __future__ import annotations

import random

from orchestration.reports import sketch


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(q * len(ordered) + 0.999999) - 1)]


def test_percentiles_are_within_six_percent_across_eleven_decades() -> None:
    rng = random.Random(7)
    # From a tenth of a second (an automated step) to months (an approval left lying).
    values = [10 ** rng.uniform(-1, 7) for _ in range(5000)]
    counts: dict[str, int] = {}
    for value in values:
        counts = sketch.add(counts, value)
    for q in (0.5, 0.9, 0.95, 0.99):
        truth, read = exact(values, q), sketch.percentile(counts, q)
        assert abs(read - truth) / truth < 0.06, (q, truth, read)


def test_days_add_up_to_the_whole_window() -> None:
    monday = sketch.add(sketch.add({}, 30), 3600)
    tuesday = sketch.add({}, 7200, n=2)
    window = sketch.merge([monday, tuesday])
    assert sum(window.values()) == 4
    assert 3300 < sketch.percentile(window, 0.5) < 3900  # the 2nd of 30 s, 1 h, 2 h, 2 h
    assert 6600 < sketch.percentile(window, 0.95) < 7800


def test_edges_of_the_scale() -> None:
    assert sketch.percentile({}, 0.5) is None
    tiny = sketch.add({}, 0.0)  # an instantaneous step: "0.1 s or less"
    assert sketch.percentile(tiny, 0.5) == sketch.BOUNDS[0] == 0.1
    huge = sketch.add({}, 1e12)  # beyond two years: the last bucket
    assert sketch.percentile(huge, 0.5) > sketch.BOUNDS[-1] > 5e7  # about two years
