"""Workers: claim due work, run automated steps outside any lock, report back.

One `work_once()` round:
1. fire due timers (claimed with SKIP LOCKED, applied under the instance lock);
2. expire leases of attempts whose worker died or hung (they count as a
   timed-out attempt and are retried by the step's policy);
3. claim ready step runs (SKIP LOCKED) and lease them;
4. run the handlers in a thread pool, each bounded by the step's timeout;
5. apply the results in one transaction, fenced by the run row: a result for a
   run that is no longer `running` under this worker is discarded and recorded.
   Automated steps that follow are claimed in that same transaction and run at
   once (step 4 again), without a trip through the queue.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction

from orchestration.clock import now as clock_now
from orchestration.engine import core, sql
from orchestration.engine import http as http_client
from orchestration.engine.events import (
    Cancel,
    ChildFinished,
    Event,
    StepFailed,
    StepSucceeded,
    TimerFired,
)
from orchestration.engine.runtime import (
    Writer,
    attach_versions,
    definition_of,
    lease,
    lock_instances,
    lock_query,
    locked,
)
from orchestration.exceptions import BusinessError, RetryableError
from orchestration.handlers import StepContext, get_handler
from orchestration.models import ProcessInstance, StepRun, Timer
from orchestration.states import RunStatus, TimerStatus

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass
class Outcome:
    run: StepRun
    ok: bool
    outputs: dict[str, Any] = field(default_factory=dict)
    code: str = ""
    message: str = ""
    retryable: bool = False
    retry_after: float | None = None


def execute(run: StepRun, instance: ProcessInstance) -> Outcome:
    """Run one attempt: a registered handler or an HTTP request. Never raises."""
    step = definition_of(instance.version).step(run.step)
    context = StepContext(instance.pk, run.step, run.attempt, run.idempotency_key)
    variables = dict(instance.variables)
    try:
        if step["type"] == "service":
            name = step["compensate"] if run.compensation else step["handler"]
            result = get_handler(name)(variables, context)
            return Outcome(run, True, dict(result or {}))
        request = step["compensate"] if run.compensation else step["request"]
        response = http_client.call(
            request,
            variables,
            idempotency_key=run.idempotency_key,
            timeout=core.step_timeout(step),
            allowed_hosts=settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS,
        )
        return Outcome(run, True, response)
    except http_client.HttpRetryable as exc:
        return Outcome(
            run, False, code=exc.code, message=str(exc), retryable=True, retry_after=exc.retry_after
        )
    except RetryableError as exc:
        return Outcome(run, False, code="RETRYABLE", message=str(exc), retryable=True)
    except BusinessError as exc:
        return Outcome(run, False, code=exc.code, message=str(exc), retryable=False)
    except Exception as exc:  # a bug in a handler: retried, then an incident
        log.exception("step %s of instance %s raised", run.step, instance.pk)
        return Outcome(run, False, code="HANDLER_ERROR", message=repr(exc)[:500], retryable=True)


def _threaded(run: StepRun, instance: ProcessInstance) -> Outcome:
    try:
        return execute(run, instance)
    finally:
        close_old_connections()  # handlers may use the ORM from this thread


class Worker:
    def __init__(
        self, name: str | None = None, *, batch: int = 32, threads: int = 8,
        clock: Clock = clock_now, sweep_interval: float = 0.0,
    ) -> None:  # fmt: skip
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.batch = batch
        self.clock = clock
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="step")
        # Timer and lease sweeps at most this often (seconds of real time): every
        # NOTIFY wakes every loop, and most wake-ups are for ready steps only.
        self.sweep_interval = sweep_interval
        self._next_sweep = 0.0

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ---- one round -----------------------------------------------------------------------
    def work_once(self, *, waited: float = 0.0) -> int:
        """Do whatever is due now; return how many items were handled. With
        `waited`, claim only steps that have been due at least that many seconds
        (a helping loop takes what the leading loop has not got to)."""
        done = 0
        if time.monotonic() >= self._next_sweep:
            timers, leases = self.fire_timers(), self.expire_leases()
            done += timers + leases
            if self.sweep_interval:
                # Sleep through quiet periods: sweep again when the next timer,
                # retry or lease comes due, at least every second; at once when a
                # full batch came due together (more are waiting behind it).
                from orchestration.engine.wakeup import seconds_until_next_due

                if self.batch in (timers, leases):
                    pause = 0.0
                elif done:
                    pause = self.sweep_interval
                else:
                    pause = max(self.sweep_interval, seconds_until_next_due(cap=1.0))
                self._next_sweep = time.monotonic() + pause
        runs = self.claim(waited=waited)
        rounds = 0
        while runs and rounds < 100:
            done += len(runs)
            runs = self.report(self.run_all(runs))
            rounds += 1
        if runs:  # still chaining after 100 rounds: let other instances have a turn
            self.release(runs)
        return done

    def seconds_until_sweep(self) -> float:
        return max(0.0, self._next_sweep - time.monotonic())

    def run_until_idle(self, limit: int = 10_000) -> int:
        """Rounds until nothing is due (tests and commands use this with a fake clock)."""
        total = 0
        for _ in range(limit):
            handled = self.work_once()
            if not handled:
                return total
            total += handled
        raise RuntimeError("work did not settle")

    # ---- step runs -----------------------------------------------------------------------
    def claim(self, *, waited: float = 0.0) -> list[StepRun]:
        now = self.clock()
        with transaction.atomic():
            runs = sql.select(
                StepRun,
                f"WHERE {sql.table(StepRun)}.status = %s AND due_at <= %s ORDER BY due_at LIMIT %s",
                [RunStatus.READY, now - timedelta(seconds=waited), self.batch],
                lock=True,
                skip_locked=True,
                related="instance",
            )
            if not runs:
                return []
            attach_versions(run.instance for run in runs)
            for run in runs:
                lease(run, run.instance, self.name, now)
            sql.update(StepRun, runs, ["status", "worker", "started_at", "lease_until"])
        return runs

    def release(self, runs: list[StepRun]) -> None:
        StepRun.objects.filter(pk__in=[r.pk for r in runs], worker=self.name).update(
            status=RunStatus.READY, worker="", lease_until=None, started_at=None
        )

    def run_all(self, runs: list[StepRun]) -> list[Outcome]:
        if len(runs) == 1:  # the common chained case: no thread hop
            run = runs[0]
            step = definition_of(run.instance.version).step(run.step)
            if "timeout" not in step:
                return [execute(run, run.instance)]
        futures: list[tuple[StepRun, Future[Outcome]]] = [
            (run, self.pool.submit(_threaded, run, run.instance)) for run in runs
        ]
        outcomes = []
        # A deadline in elapsed time, not business time (see orchestration/clock.py).
        started = time.monotonic()
        for run, future in futures:
            step = definition_of(run.instance.version).step(run.step)
            left = core.step_timeout(step).total_seconds() - (time.monotonic() - started)
            try:
                outcomes.append(future.result(timeout=max(left, 0.001)))
            except FutureTimeout:
                # The handler is abandoned (a thread cannot be killed); its late
                # result, if any, is never applied: this attempt is reported failed.
                outcomes.append(
                    Outcome(
                        run,
                        False,
                        code="TIMEOUT",
                        retryable=True,
                        message=f"no result within {step.get('timeout')}",
                    )
                )
        return outcomes

    def report(self, outcomes: list[Outcome]) -> list[StepRun]:
        """Apply results in one transaction; return runs claimed for chaining."""
        now = self.clock()
        with transaction.atomic():
            # The runs are read after the lock is granted (one round trip for both):
            # a run fenced off while we waited shows its new status.
            where, params = sql.in_("id", [o.run.pk for o in outcomes])
            rows, runs = sql.select_all(
                lock_query(o.run.instance_id for o in outcomes),
                sql.Query(StepRun, f"WHERE {where}", params),
            )
            instances = locked(rows)
            current = {run.pk: run for run in runs}
            writer = Writer(now, worker=self.name)
            for outcome in outcomes:
                run = outcome.run
                instance = instances.get(run.instance_id)
                row = current.get(run.pk)
                if (
                    instance is None
                    or not row
                    or row.status != RunStatus.RUNNING
                    or row.worker != self.name
                ):
                    writer.record(
                        instance or run.instance,
                        "step.result_discarded",
                        step=run.step,
                        payload={
                            "run": run.pk,
                            "attempt": run.attempt,
                            "ok": outcome.ok,
                            "run_status": row and row.status,
                        },
                    )
                    continue
                run.ended_at = now
                run.lease_until = None
                if outcome.ok:
                    run.status = RunStatus.SUCCEEDED
                    event: Event = StepSucceeded(
                        run.token, run.step, run.execution, outcome.outputs, run.compensation
                    )
                else:
                    run.status = RunStatus.FAILED
                    run.error = {"code": outcome.code, "message": outcome.message}
                    event = StepFailed(
                        run.token,
                        run.step,
                        run.execution,
                        run.attempt,
                        outcome.code,
                        outcome.message,
                        outcome.retryable,
                        outcome.retry_after,
                        run.compensation,
                    )
                writer.changed_runs.append(run)
                self._apply(writer, instance, event, run.step)
            writer.flush()
            # Each claimed run already holds its (updated) instance, including
            # children this transaction started, which were never in `instances`.
            claimed = writer.claimed
        return claimed

    def _apply(
        self, writer: Writer, instance: ProcessInstance, event: Event, step: str,
        payload: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        try:
            writer.apply(instance, event, payload=payload)
        except core.EngineError as exc:
            writer.record(
                instance,
                "event.ignored",
                step=step,
                # What the event carried (a timer's id) stays in the record.
                payload={**(payload or {}), "event": type(event).__name__, "why": str(exc)},
            )

    def expire_leases(self) -> int:
        now = self.clock()
        with transaction.atomic():
            runs = list(
                StepRun.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=RunStatus.RUNNING, lease_until__lt=now)
                .order_by("lease_until")[: self.batch]
            )
            if not runs:
                return 0
            instances = lock_instances((r.instance_id for r in runs), skip_locked=True)
            runs = [r for r in runs if r.instance_id in instances]  # the rest: next round
            writer = Writer(now)
            for run in runs:
                run.status = RunStatus.TIMED_OUT
                run.ended_at = now
                run.error = {
                    "code": "LEASE_EXPIRED",
                    "message": f"worker {run.worker} gave no result",
                }
                writer.changed_runs.append(run)
                event = StepFailed(
                    run.token,
                    run.step,
                    run.execution,
                    run.attempt,
                    "LEASE_EXPIRED",
                    run.error["message"],
                    True,
                    None,
                    run.compensation,
                )
                self._apply(writer, instances[run.instance_id], event, run.step)
            writer.flush()
        return len(runs)

    # ---- timers --------------------------------------------------------------------------
    def fire_timers(self) -> int:
        now = self.clock()
        with transaction.atomic():
            timers = list(
                Timer.objects.select_for_update(skip_locked=True)
                .filter(status=TimerStatus.PENDING, due_at__lte=now)
                .order_by("due_at")[: self.batch]
            )
            if not timers:
                return 0
            instances = lock_instances((t.instance_id for t in timers), skip_locked=True)
            timers = [t for t in timers if t.instance_id in instances]  # the rest: next round
            writer = Writer(now, worker=self.name)
            for timer in timers:
                timer.status = TimerStatus.FIRED
                timer.fired_at = now
                # The transition's audit row carries the lateness: a fired timer
                # is visible (and measurable) in the audit log.
                lateness = {"timer": timer.pk, "timer_kind": timer.kind,
                            "lateness_s": (now - timer.due_at).total_seconds()}  # fmt: skip
                event = _timer_event(timer)
                self._apply(writer, instances[timer.instance_id], event, timer.step, lateness)
            sql.update(Timer, timers, ["status", "fired_at"])
            writer.flush()
            claimed = writer.claimed
        if claimed:
            # Chained runs from timers: run them now like any other claimed work.
            runs = claimed
            while runs:
                runs = self.report(self.run_all(runs))
        return len(timers)


def _timer_event(timer: Timer) -> Event:
    if timer.kind == "child_finished":
        p = timer.payload
        return ChildFinished(
            timer.token, timer.step, p["status"], p.get("result", ""), p.get("variables", {})
        )
    if timer.kind == "cancel":
        return Cancel(timer.payload.get("reason", ""))
    return TimerFired(timer.token, timer.step, timer.kind)
