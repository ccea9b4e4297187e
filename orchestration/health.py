"""Is this deployment ready to take work? The checks /readyz answers with and
`engine_status` prints: the database, its migrations, the engine loops'
heartbeats, and how far sealing and the outbox lag behind."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils.timesince import timesince

from orchestration import clock


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str = ""  # why not, in words an operator acts on
    value: float | None = None  # the measured number (seconds of lag, say)


_migrated = False  # once every migration was applied, this process need not ask again


def readiness(now: datetime | None = None) -> list[Check]:
    """Every check, in order; those after a failed database check say so."""
    now = now or clock.now()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        reason = f"the database cannot be reached: {exc}".strip()
        down = "not checked: the database cannot be reached"
        return [Check("database", False, reason[:300]),
                *(Check(name, False, down) for name in ("migrations", "workers", "sealing",
                                                        "outbox"))]  # fmt: skip
    return [Check("database", True), _migrations(), *_engine(now)]


def _migrations() -> Check:
    global _migrated
    if not _migrated:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan[:5])
            more = f" and {len(plan) - 5} more" if len(plan) > 5 else ""
            return Check("migrations", False,
                         f"{len(plan)} migration(s) not applied: {names}{more}"
                         " (run manage.py migrate)", len(plan))  # fmt: skip
        _migrated = True
    return Check("migrations", True, value=0)


def _engine(now: datetime) -> list[Check]:
    from orchestration.metrics.queues import queues
    from orchestration.models import LoopHeartbeat

    window = settings.ORCHESTRATION_READY_HEARTBEAT_SECONDS
    newest = LoopHeartbeat.objects.order_by("-seen_at").values_list("seen_at", flat=True).first()
    if newest is None:
        workers = Check("workers", False, "no engine loop has a heartbeat: start a worker"
                        " cluster (manage.py qcluster)")  # fmt: skip
    elif now - newest > timedelta(seconds=window):
        workers = Check("workers", False,
                        f"no engine loop heartbeat in the last {window} s (the newest was"
                        f" {timesince(newest, now)} ago): are the worker clusters running?",
                        (now - newest).total_seconds())  # fmt: skip
    else:
        workers = Check("workers", True, value=(now - newest).total_seconds())
    waiting = queues(now)
    sealing = _lag("sealing", waiting["sealing"].age(now),
                   settings.ORCHESTRATION_READY_SEALING_LAG_SECONDS,
                   "audit rows wait to be sealed")  # fmt: skip
    outbox = max(waiting["mail"].age(now), waiting["webhooks"].age(now))
    behind = _lag("outbox", outbox, settings.ORCHESTRATION_READY_OUTBOX_LAG_SECONDS,
                  "mail or webhooks wait to go out")  # fmt: skip
    return [workers, sealing, behind]


def _lag(name: str, seconds: float, limit: int, what: str) -> Check:
    if seconds > limit:
        return Check(name, False, f"{what} for {seconds:.0f} s, over the {limit} s limit",
                     round(seconds, 3))  # fmt: skip
    return Check(name, True, value=round(seconds, 3))


def as_json(checks: list[Check]) -> dict[str, Any]:
    return {
        "ready": all(c.ok for c in checks),
        "checks": {c.name: {k: v for k, v in asdict(c).items() if k != "name"} for c in checks},
    }
