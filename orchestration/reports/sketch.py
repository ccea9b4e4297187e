"""Durations counted in fixed log-scale buckets: days add up by adding their
counts, and a percentile read from the sum is within half a bucket's width
(6 %) of the true one. Kept sparse ({bucket: count}, as JSON: string keys)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

Counts = Mapping[str, int]

# Bucket i holds durations above BOUNDS[i - 1] and up to BOUNDS[i] seconds:
# 0.1 s, then 12 % wider each time, up to about two years; one more holds longer.
RATIO = 1.12
_TOP = 6.4e8  # the last bound over the first: 0.1 s to about two years
BOUNDS: tuple[float, ...] = tuple(
    0.1 * RATIO**i for i in range(int(math.log(_TOP) / math.log(RATIO)) + 1)
)


def bucket(seconds: float) -> int:
    if seconds <= BOUNDS[0]:
        return 0
    at = math.ceil(math.log(seconds / BOUNDS[0]) / math.log(RATIO) - 1e-9)
    return min(len(BOUNDS), at)


def add(counts: Counts, seconds: float, n: int = 1) -> dict[str, int]:
    """The counts with `n` more of this duration."""
    out = dict(counts)
    key = str(bucket(seconds))
    out[key] = out.get(key, 0) + n
    return out


def merge(many: Iterable[Counts]) -> dict[str, int]:
    out: dict[str, int] = {}
    for counts in many:
        for key, n in counts.items():
            out[key] = out.get(key, 0) + n
    return out


def percentile(counts: Counts, q: float) -> float | None:
    """The q-th quantile (0..1) in seconds: the geometric middle of the bucket
    it falls in (None when nothing was counted)."""
    total = sum(counts.values())
    if total == 0:
        return None
    seen = 0
    for index in sorted(int(k) for k in counts):
        seen += counts[str(index)]
        if seen >= q * total:
            if index == 0:  # 0.1 s or less (an instantaneous step): its bound
                return BOUNDS[0]
            low = BOUNDS[index - 1]
            high = BOUNDS[index] if index < len(BOUNDS) else BOUNDS[-1] * RATIO
            return math.sqrt(low * high)
    return None
