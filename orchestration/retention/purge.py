"""The retention purge: an ended instance's personal data goes once its
retention has passed (rules.py), in bounded rounds.

Scheduled every 15 minutes (orchestration.jobs.purge_expired; `manage.py
purge_expired` runs it by hand). Each round takes the instances due, oldest
ending first, up to `batch`, and removes each in a transaction of its own
(removal.py): one that fails is rolled back alone and recorded as a
SweepFailure, tried again with backoff; one on legal hold is never taken; one
whose audit rows are not settled yet waits for a later round. Rounds go on
until nothing is due or `seconds` have passed.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Min, Q

from orchestration import clock, sweeps
from orchestration.models import ProcessInstance, ProcessVersion
from orchestration.retention import rules
from orchestration.retention.holds import held_q
from orchestration.retention.removal import NotSettled, Removed, delete_files, remove_instance
from orchestration.states import ENDED, InstanceStatus

log = logging.getLogger(__name__)
SWEEP = "retention purge"
_FINAL = [str(s) for s in ENDED] + [InstanceStatus.FAILED]


@dataclass
class Report:
    removed: Removed = field(default_factory=Removed)
    waiting: int = 0  # audit rows not settled yet: next round
    failed: int = 0
    rounds: int = 0


def due_q(now: datetime) -> Q:
    """Ended instances past their version's retention, not purged, not held."""
    by_retention: dict[timedelta, list[int]] = defaultdict(list)
    for pk, spec in ProcessVersion.objects.values_list("pk", "spec").iterator():
        kept = rules.retention_of(spec or {})
        if kept is not None:
            by_retention[kept].append(pk)
    if not by_retention:
        return Q(pk__in=[])
    due = Q()
    for kept, versions in by_retention.items():
        due |= Q(version_id__in=versions, ended_at__lte=now - kept)
    return due


def backlog(now: datetime) -> tuple[int, datetime | None]:
    """How many ended instances wait for the purge, and when the first of them
    came due (None: none): the `retention` queue of the metrics."""
    count, oldest = 0, None
    base = due(now)
    by_retention: dict[timedelta, list[int]] = defaultdict(list)
    for pk, spec in ProcessVersion.objects.values_list("pk", "spec").iterator():
        kept = rules.retention_of(spec or {})
        if kept is not None:
            by_retention[kept].append(pk)
    for kept, versions in by_retention.items():
        found = base.filter(version_id__in=versions).aggregate(n=Count("pk"), first=Min("ended_at"))
        count += found["n"]
        if found["first"] is not None:
            moment = found["first"] + kept
            oldest = moment if oldest is None else min(oldest, moment)
    return count, oldest


def due(now: datetime) -> ProcessInstance:
    return (
        ProcessInstance.objects.filter(ended_at__isnull=False, purged_at__isnull=True)
        .filter(status__in=_FINAL)
        .filter(due_q(now))
        .exclude(held_q())
    )


def purge_due(*, seconds: float = 50.0, batch: int = 200, now: datetime | None = None) -> Report:
    """Purge what is due, round after round, for up to `seconds`."""
    report = Report()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        moment = now or clock.now()
        candidates = sweeps.skip_held(due(moment), SWEEP, moment)
        ids = list(candidates.order_by("ended_at", "pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        report.rounds += 1
        waiting = report.waiting

        def purge(pk: int, moment: datetime = moment) -> Removed | None:
            if time.monotonic() >= deadline:
                return None  # out of time: the next run takes it
            with transaction.atomic():
                instance = (
                    ProcessInstance.objects.select_for_update(skip_locked=True)
                    .filter(pk=pk, purged_at__isnull=True)
                    .exclude(held_q())
                    .select_related("version")
                    .first()
                )
                if instance is None:  # purged or held meanwhile, or locked
                    return None
                try:
                    return remove_instance(
                        instance, rule=rules.label(instance.version.spec or {}), now=moment
                    )
                except NotSettled:
                    report.waiting += 1
                    return None

        done = sweeps.each(SWEEP, ids, purge, row_id=lambda pk: pk, now=moment, savepoint=False)
        report.failed += len(ids) - len(done)  # rolled back alone, recorded, retried later
        for removed in done:
            if removed is not None:
                delete_files(removed.files)  # committed: the rows say the files are gone
                report.removed.add(removed)
        if len(ids) < batch or report.waiting - waiting == len(ids):
            break  # the last of what was due, or all of it waits for the log's readers
    return report
