"""The retention purge: an ended instance's personal data goes once its
retention has passed (rules.py), in bounded rounds.

Scheduled every 15 minutes (orchestration.jobs.purge_expired; `manage.py
purge_expired` runs it by hand). Each round takes the instances due, oldest
ending first, up to `batch`, and removes each in a transaction of its own
(removal.py): one that fails is rolled back alone and recorded as a
SweepFailure, tried again with backoff; one on legal hold is never taken; one
whose audit rows are not settled yet waits for a later round. Rounds go on
until nothing is due or `seconds` have passed, resting between rounds so
that the purge works ORCHESTRATION_PURGE_DUTY of the time (0.1) while a
backlog lasts.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Min, Q, QuerySet

from orchestration import clock, sweeps
from orchestration.audit.removal import Settled
from orchestration.models import ProcessInstance, ProcessVersion, SweepFailure
from orchestration.retention import rules
from orchestration.retention.holds import held_q
from orchestration.retention.removal import NotSettled, Removed, delete_files, remove_instances
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


def by_retention() -> dict[timedelta, list[int]]:
    """The versions' ids by how long their instances' data is kept ("forever"
    left out): read once for a query or a count."""
    found: dict[timedelta, list[int]] = defaultdict(list)
    for pk, spec in ProcessVersion.objects.values_list("pk", "spec").iterator():
        kept = rules.retention_of(spec or {})
        if kept is not None:
            found[kept].append(pk)
    return found


def due_q(now: datetime, groups: dict[timedelta, list[int]] | None = None) -> Q:
    """Ended instances past their version's retention, not purged, not held."""
    groups = by_retention() if groups is None else groups
    if not groups:
        return Q(pk__in=[])
    due = Q()
    for kept, versions in groups.items():
        due |= Q(version_id__in=versions, ended_at__lte=now - kept)
    return due


def backlog(now: datetime) -> tuple[int, datetime | None]:
    """How many ended instances wait for the purge, and when the first of them
    came due (None: none): the `retention` queue of the metrics."""
    count, oldest = 0, None
    groups = by_retention()
    base = due(now, groups)
    for kept, versions in groups.items():
        found = base.filter(version_id__in=versions).aggregate(n=Count("pk"), first=Min("ended_at"))
        count += found["n"]
        if found["first"] is not None:
            moment = found["first"] + kept
            oldest = moment if oldest is None else min(oldest, moment)
    return count, oldest


def due(
    now: datetime, groups: dict[timedelta, list[int]] | None = None
) -> QuerySet[ProcessInstance]:
    return (
        ProcessInstance.objects.filter(ended_at__isnull=False, purged_at__isnull=True)
        .filter(status__in=_FINAL)
        .filter(due_q(now, groups))
        .exclude(held_q())
    )


def purge_due(
    *, seconds: float = 50.0, batch: int = 200, now: datetime | None = None,
    duty: float | None = None,
) -> Report:  # fmt: skip
    """Purge what is due, round after round, for up to `seconds`. A round
    takes up to `batch` instances, oldest ending first, and removes them with
    a statement per table for all of them; should that raise, each is tried
    alone, so one bad instance fails alone (a SweepFailure, retried with
    backoff) and the rest go."""
    report = Report()
    deadline = time.monotonic() + seconds
    share = settings.ORCHESTRATION_PURGE_DUTY if duty is None else duty
    while time.monotonic() < deadline:
        began = time.monotonic()
        moment = now or clock.now()
        candidates = sweeps.skip_held(due(moment), SWEEP, moment)
        ids = list(candidates.order_by("ended_at", "pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        report.rounds += 1
        settled = Settled.now()
        waiting = report.waiting
        with transaction.atomic():
            locked = list(
                ProcessInstance.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk__in=ids, purged_at__isnull=True)
                .exclude(held_q())
                .select_related("version")
            )
            groups: dict[str, list[ProcessInstance]] = defaultdict(list)
            for instance in locked:
                groups[rules.label(instance.version.spec or {})].append(instance)
            for rule, group in groups.items():
                _group(group, rule, moment, settled, report)
        if len(ids) < batch or report.waiting - waiting == len(ids):
            break  # the last of what was due, or all of it waits for the log's readers
        # More is due: rest nine times as long as the round took (duty 0.1), so that a
        # backlog never takes the machine from the engine (docs/performance.md).
        rest = min((time.monotonic() - began) * (1 / share - 1), deadline - time.monotonic())
        if rest > 0:
            time.sleep(rest)
    return report


def _group(
    group: list[ProcessInstance], rule: str, now: datetime, settled: Settled, report: Report
) -> None:
    try:
        with transaction.atomic():
            removed = remove_instances(group, rule=rule, now=now, settled=settled)
    except NotSettled as late:
        report.waiting += len(late.instances)
        group = [i for i in group if i.pk not in set(late.instances)]
        if group:
            _group(group, rule, now, settled, report)
        return
    except Exception:  # one of them is bad: each alone, so that it fails alone
        log.warning("retention purge: a batch of %d failed; trying each alone", len(group))
        done = sweeps.each(
            SWEEP, group,
            lambda one: remove_instances([one], rule=rule, now=now, settled=settled),
            row_id=lambda one: one.pk, now=now,
        )  # fmt: skip
        report.failed += len(group) - len(done)
        for removed in done:
            _done(removed, report)
        return
    _done(removed, report)
    # Handled after all: an earlier failure of one of them is forgotten.
    SweepFailure.objects.filter(sweep=SWEEP, row_id__in=[i.pk for i in group]).delete()


def _done(removed: Removed, report: Report) -> None:
    transaction.on_commit(lambda: delete_files(removed.files))  # the rows say the files are gone
    report.removed.add(removed)
