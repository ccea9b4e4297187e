"""External tasks: runs of `service` steps that name `external: TOPIC`, done by
workers outside the engine (behind a firewall, in another language) through
the API. They fetch and lock work by topic, then complete it, fail it or
extend their lock. The engine's own workers never take these runs.

A lock is a lease: while it holds, only its worker may report; once it
expires the run may be fetched again (by anyone), and a report from the worker
that lost it is refused and recorded. Results go through the same path as the
engine's own workers (the fence, the core, retries, incidents)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from orchestration import limits
from orchestration.audit import AuditKind
from orchestration.engine.worker import Outcome, Worker
from orchestration.exceptions import InstanceConflict, InvalidInput
from orchestration.models import ProcessEvent, StepRun
from orchestration.states import HOLDING, RunStatus

MAX_TASKS = 100
MAX_LOCK = timedelta(hours=1)
_WORKER_ID = 50  # characters; "ext:" is put before it in StepRun.worker


def worker_name(worker_id: str) -> str:
    return f"ext:{worker_id}"


def _check_worker(worker_id: str) -> None:
    if not worker_id or len(worker_id) > _WORKER_ID:
        raise InvalidInput({"worker_id": [_("1 to %(n)s characters") % {"n": _WORKER_ID}]})


def _check_lock(lock: timedelta) -> None:
    if not timedelta(seconds=1) <= lock <= MAX_LOCK:
        raise InvalidInput({"lock_duration": [_("between 1 second and 1 hour")]})


def fetch_and_lock(
    *,
    worker_id: str,
    topics: Sequence[str],
    max_tasks: int,
    lock: timedelta,
    now: datetime,
    within: Q | None = None,
) -> list[StepRun]:
    """Lock up to `max_tasks` runs of these topics for the worker: ready ones
    that are due, and ones whose previous lock expired; oldest first. Runs of
    instances in incident wait for the operator. `within` narrows the
    instances (an API key's definitions)."""
    _check_worker(worker_id)
    _check_lock(lock)
    if not topics:
        raise InvalidInput({"topics": [_("name at least one topic")]})
    if not 1 <= max_tasks <= MAX_TASKS:
        raise InvalidInput({"max_tasks": [_("between 1 and %(n)s") % {"n": MAX_TASKS}]})
    with transaction.atomic():
        runs = list(
            StepRun.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("instance__definition")
            .filter(topic__in=list(topics))
            .filter(
                Q(status=RunStatus.READY, due_at__lte=now)
                | Q(status=RunStatus.RUNNING, lease_until__lt=now)
            )
            .exclude(instance__status__in=HOLDING)
            .filter(within or Q())
            .order_by("due_at", "pk")[:max_tasks]
        )
        for run in runs:
            run.status, run.worker = RunStatus.RUNNING, worker_name(worker_id)
            run.started_at, run.lease_until = now, now + lock
        StepRun.objects.bulk_update(runs, ["status", "worker", "started_at", "lease_until"])
    return runs


Result = StepRun | Exception  # per task of a batch: the ended run, or why not


def _held_many(
    ids: Sequence[int], worker_id: str, now: datetime, action: str, within: Q | None = None
) -> dict[int, Result]:
    """Each run when this worker's lock on it holds; otherwise why not
    (StepRun.DoesNotExist, or InstanceConflict lock_expired / not_locked, the
    attempt recorded in the audit log)."""
    _check_worker(worker_id)
    runs = (
        StepRun.objects.select_related("instance")
        .exclude(topic="")
        .filter(within or Q())
        .in_bulk(list(ids))
    )
    found: dict[int, Result] = {}
    refused = []
    for pk in ids:
        run = runs.get(pk)
        if run is None:
            found[pk] = StepRun.DoesNotExist(f"no external task {pk}")
            continue
        mine = run.status == RunStatus.RUNNING and run.worker == worker_name(worker_id)
        if mine and run.lease_until is not None and run.lease_until >= now:
            found[pk] = run
            continue
        code = "lock_expired" if mine else "not_locked"
        refused.append(
            ProcessEvent(
                kind=AuditKind.STEP_RESULT_DISCARDED,
                instance_id=run.instance_id,
                definition_id=run.instance.definition_id,
                version_id=run.instance.version_id,
                step=run.step,
                created_at=now,
                payload={
                    "run": run.pk,
                    "attempt": run.attempt,
                    "worker": worker_id,
                    "action": action,
                    "why": code,
                    "run_status": run.status,
                },
            )
        )
        found[pk] = InstanceConflict(
            code,
            _("the lock of worker %(worker)r on task %(id)s expired")
            % {"worker": worker_id, "id": pk}
            if mine
            else _("task %(id)s is not locked by worker %(worker)r")
            % {"id": pk, "worker": worker_id},
        )
    ProcessEvent.objects.bulk_create(refused)
    return found


def _held(run_id: int, worker_id: str, now: datetime, action: str) -> StepRun:
    found = _held_many([run_id], worker_id, now, action)[run_id]
    if isinstance(found, Exception):
        raise found
    return found


def _report_many(outcomes: list[Outcome], worker_id: str, now: datetime) -> dict[int, Result]:
    """Report the outcomes in one round (as an engine worker reports its
    batch: one transaction, each instance isolated); each run as it ended."""
    reporter = Worker(worker_name(worker_id), threads=1, clock=lambda: now)
    try:
        chained = reporter.report(outcomes)
        if chained:  # the engine's workers run the next steps, not this request
            reporter.release(chained)
    finally:
        reporter.close()
    ended = StepRun.objects.in_bulk([o.run.pk for o in outcomes])
    results: dict[int, Result] = {}
    for outcome in outcomes:
        done = ended[outcome.run.pk]
        if done.worker != worker_name(worker_id) or done.status == RunStatus.RUNNING:
            # Lost the fence between the check and the report (recorded by it).
            results[done.pk] = InstanceConflict(
                "not_locked",
                _("task %(id)s is not locked by %(worker)r") % {"id": done.pk, "worker": worker_id},
            )
        else:
            results[done.pk] = done
    return results


def _report(run: StepRun, worker_id: str, outcome: Outcome, now: datetime) -> StepRun:
    result = _report_many([outcome], worker_id, now)[run.pk]
    if isinstance(result, Exception):
        raise result
    return result


def _outputs(variables: Any) -> dict[str, Any]:
    outputs = {} if variables is None else variables
    if not isinstance(outputs, dict):
        raise InvalidInput({"variables": [_("must be a JSON object")]})
    problem = limits.json_problem(outputs, "variables")
    if problem:
        raise InvalidInput({"variables": [problem]})
    return outputs


def complete(
    *, run_id: int, worker_id: str, variables: dict[str, Any] | None, now: datetime
) -> StepRun:
    """Finish the run with these outputs (merged into the instance's variables
    as the step's `outputs` allow)."""
    outputs = _outputs(variables)
    run = _held(run_id, worker_id, now, "complete")
    return _report(run, worker_id, Outcome(run, True, outputs), now)


MAX_BATCH = 100


def complete_many(
    *, worker_id: str, tasks: Sequence[tuple[int, Any]], now: datetime, within: Q | None = None
) -> list[tuple[int, Result]]:
    """Complete many locked runs in one round: (run id, outputs) each, in
    order; every task succeeds or fails alone (its result says why)."""
    _check_worker(worker_id)
    if not 1 <= len(tasks) <= MAX_BATCH:
        raise InvalidInput({"tasks": [_("between 1 and %(n)s tasks") % {"n": MAX_BATCH}]})
    results: dict[int, Result] = {}
    outputs: dict[int, dict[str, Any]] = {}
    for pk, variables in tasks:
        if pk in outputs or pk in results:
            results[pk] = InvalidInput({"id": [_("task %(id)s is listed twice") % {"id": pk}]})
            continue
        try:
            outputs[pk] = _outputs(variables)
        except InvalidInput as exc:
            results[pk] = exc
    held = _held_many(list(outputs), worker_id, now, "complete", within)
    ready = []
    for pk, found in held.items():
        if isinstance(found, Exception):
            results[pk] = found
        else:
            ready.append(Outcome(found, True, outputs[pk]))
    if ready:
        results.update(_report_many(ready, worker_id, now))
    return [(pk, results[pk]) for pk, _ in tasks]


def fail(
    *,
    run_id: int,
    worker_id: str,
    message: str,
    code: str = "",
    retryable: bool = True,
    retry_in: float | None = None,
    now: datetime,
) -> StepRun:
    """End the attempt as failed: retried by the step's policy (after
    `retry_in` seconds when given) when retryable, else the step's error
    handling (`on_error`) or the instance fails."""
    if retry_in is not None and not 0 <= retry_in <= 7 * 24 * 3600:
        raise InvalidInput({"retry_in": [_("between 0 seconds and 7 days")]})
    run = _held(run_id, worker_id, now, "fail")
    outcome = Outcome(
        run,
        False,
        code=code or "EXTERNAL_FAILURE",
        message=message,
        retryable=retryable,
        retry_after=retry_in,
    )
    return _report(run, worker_id, outcome, now)


def extend_lock(*, run_id: int, worker_id: str, lock: timedelta, now: datetime) -> StepRun:
    """Hold the lock `lock` longer from now (a worker still busy with it)."""
    _check_lock(lock)
    run = _held(run_id, worker_id, now, "extend-lock")
    # Conditional, so a lock that expired (and was taken) meanwhile stays lost.
    if not StepRun.objects.filter(
        pk=run.pk, status=RunStatus.RUNNING, worker=worker_name(worker_id), lease_until__gte=now
    ).update(lease_until=now + lock):
        raise InstanceConflict(
            "not_locked",
            _("task %(id)s is not locked by %(worker)r") % {"id": run.pk, "worker": worker_id},
        )
    run.lease_until = now + lock
    return run
