"""How much work waits, and how long the oldest item has waited: for the
metrics, /readyz and `engine_status` alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Sum

from orchestration.audit.chain import unsealed
from orchestration.models import (
    AuditSeal,
    DeliveryStatus,
    OutboxCursor,
    ProcessEvent,
    StepRun,
    Timer,
    WebhookDelivery,
)
from orchestration.retention.purge import backlog
from orchestration.states import RunStatus, TimerStatus

# The outbox consumers whose backlog counts as a queue (their cursor names).
CONSUMERS = {"mail": "mail", "metrics": "metrics"}


@dataclass(frozen=True)
class Queue:
    depth: int
    oldest: datetime | None  # when the oldest item became due (None: empty)

    def age(self, now: datetime) -> float:
        return max(0.0, (now - self.oldest).total_seconds()) if self.oldest else 0.0


def queues(now: datetime) -> dict[str, Queue]:
    """Every queue by name: runs, timers, mail, webhooks, sealing, the metrics
    fold and the retention purge."""
    runs = StepRun.objects.filter(status=RunStatus.READY, due_at__lte=now).aggregate(
        n=Count("pk"), oldest=Min("due_at")
    )
    timers = Timer.objects.filter(status=TimerStatus.PENDING, due_at__lte=now).aggregate(
        n=Count("pk"), oldest=Min("due_at")
    )
    hooks = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).aggregate(n=Count("pk"), oldest=Min("next_attempt_at"))
    sealing = ProcessEvent.objects.filter(unsealed()).aggregate(
        n=Count("pk"), oldest=Min("created_at")
    )
    found = {
        "runs": Queue(runs["n"], runs["oldest"]),
        "timers": Queue(timers["n"], timers["oldest"]),
        "webhooks": Queue(hooks["n"], hooks["oldest"]),
        "sealing": Queue(sealing["n"], sealing["oldest"]),
    }
    for queue, name in CONSUMERS.items():
        found[queue] = outbox_backlog(name)
    found["retention"] = Queue(*backlog(now))  # ended instances past their retention
    return found


def outbox_backlog(name: str) -> Queue:
    """The sealed audit rows a consumer has not passed yet, and when the first
    of them was written."""
    cursor = OutboxCursor.objects.filter(name=name).values("position", "offset").first()
    position, offset = (max(cursor["position"], 1), cursor["offset"]) if cursor else (1, 0)
    later = AuditSeal.objects.filter(seq__gt=position).aggregate(n=Sum("count"))["n"] or 0
    current = AuditSeal.objects.filter(seq=position).values("count", "first_id").first()
    depth = later + (max(0, current["count"] - offset) if current else 0)
    if depth == 0:
        return Queue(0, None)
    first = _first_entry(position, offset)
    oldest = (
        ProcessEvent.objects.filter(pk=first).values_list("created_at", flat=True).first()
        if first is not None
        else None
    )
    return Queue(depth, oldest)


def _first_entry(position: int, offset: int) -> int | None:
    from orchestration.audit.hashchain import entries_of

    for seq, entries in (
        AuditSeal.objects.filter(seq__gte=position)
        .order_by("seq")
        .values_list("seq", "entries")[:2]
    ):
        every = entries_of(bytes(entries))
        start = offset if seq == position else 0
        if start < len(every):
            return int(every[start][0])
    return None
