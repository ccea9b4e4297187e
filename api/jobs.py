"""The API's housekeeping, run hourly by django-q2 (api/migrations/0002)."""

from __future__ import annotations

from api import access_log, idempotency
from orchestration.services.messages import prune_expired


def housekeeping() -> dict[str, int]:
    """Forget idempotency keys older than a day, kept messages that lapsed a
    day ago and API calls older than API_CALL_LOG_DAYS; each in batches, so
    one run stays short whatever the backlog."""
    keys = messages = calls = 0
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
    for _ in range(100):
        pruned = access_log.prune()
        calls += pruned
        if pruned < 5000:
            break
    return {"idempotency_keys": keys, "buffered_messages": messages, "api_calls": calls}
