"""Retry policy of automated steps: attempts, exponential backoff, jitter.

Pure functions of a step's definition; the jitter comes from a hash, so the
core stays deterministic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from orchestration.definitions.durations import parse_duration

DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF = timedelta(seconds=1)
DEFAULT_MAX_BACKOFF = timedelta(minutes=5)


def retry_policy(step: Mapping[str, Any]) -> tuple[int, timedelta, timedelta]:
    retry = step.get("retry") or {}
    return (
        int(retry.get("max_attempts", DEFAULT_MAX_ATTEMPTS)),
        parse_duration(retry["backoff"]) if "backoff" in retry else DEFAULT_BACKOFF,
        parse_duration(retry["max_backoff"]) if "max_backoff" in retry else DEFAULT_MAX_BACKOFF,
    )


def backoff_delay(step: Mapping[str, Any], attempt: int, *, salt: str) -> timedelta:
    """Delay before attempt `attempt + 1`: exponential from `backoff`, capped by
    `max_backoff`, with "equal jitter" (between half and all of it). The jitter
    comes from a hash of `salt`, so it spreads retries without making the core
    depend on a random source."""
    _, backoff, cap = retry_policy(step)
    delay = min(cap, backoff * (2 ** max(attempt - 1, 0)))
    fraction = int(hashlib.sha256(f"{salt}:{attempt}".encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    jittered: timedelta = delay / 2 + delay / 2 * fraction
    return jittered
