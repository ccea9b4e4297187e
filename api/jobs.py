"""The API's housekeeping, run hourly by django-q2 (api/migrations/0002)."""

from __future__ import annotations

from api import idempotency
from orchestration.services.messages import prune_expired


def housekeeping() -> dict[str, int]:
    """Forget idempotency keys older than a day and kept messages that expired
    a day ago; each in batches, so one run stays short whatever the backlog."""
    keys = messages = 0
    for _ in range(100):
        pruned = idempotency.prune()
        keys += pruned
        if pruned < 5000:
            break
    for _ in range(100):
        pruned = prune_expired()
        messages += pruned
        if pruned < 5000:
            break
    return {"idempotency_keys": keys, "buffered_messages": messages}
