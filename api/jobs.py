"""The API's housekeeping, run hourly by django-q2 (api/migrations/0002)."""

from __future__ import annotations

from collections.abc import Callable

from api import access_log, idempotency
from orchestration.services.messages import prune_expired


def housekeeping() -> dict[str, int]:
    """Forget idempotency keys older than a day, kept messages that lapsed a
    day ago and API calls older than API_CALL_LOG_DAYS; each in batches, so
    one run stays short whatever the backlog, and each alone: one that fails
    is recorded (orchestration/sweeps.py) and the others still run."""
    from orchestration import clock, sweeps

    counts = dict.fromkeys(PARTS, 0)

    def run(name: str) -> None:
        for _ in range(100):
            pruned = PARTS[name]()
            counts[name] += pruned
            if pruned < 5000:
                break

    sweeps.each("api housekeeping", list(PARTS), run, row_id=lambda name: list(PARTS).index(name),
                now=clock.now(), savepoint=False)  # fmt: skip
    return counts


PARTS: dict[str, Callable[[], int]] = {
    "idempotency_keys": idempotency.prune,
    "buffered_messages": prune_expired,
    "api_calls": access_log.prune,
}
