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
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction

from orchestration import limits, log_context, sweeps, tracing
from orchestration.audit import AuditKind
from orchestration.clock import now as clock_now
from orchestration.engine import core, incidents, sealing, store
from orchestration.engine import http as http_client
from orchestration.engine.events import (
    Cancel,
    ChildFinished,
    Event,
    MessageReceived,
    StepFailed,
    StepSucceeded,
    TimerFired,
)
from orchestration.engine.runtime import (
    Writer,
    failed_step,
    lease,
    step_timeout,
)
from orchestration.engine.state import TimerKind
from orchestration.engine.store import lock_instances
from orchestration.engine.versions import definition_of
from orchestration.exceptions import BusinessError, RetryableError
from orchestration.handlers import StepContext, get_handler
from orchestration.models import ProcessInstance, StepRun, Timer
from orchestration.states import HOLDING, RunStatus, TimerStatus

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Side sweeps to run before the timers fire, and after (see Worker.__init__).
SideSweeps = tuple[Sequence[Callable[[], int | None]], Sequence[Callable[[], int | None]]]


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
    with (
        log_context.bound(instance=instance.pk, step=run.step, attempt=run.attempt,
                          worker=run.worker or None),
        tracing.span(f"step {run.step}", parent=instance.traceparent, attributes={
            "orchestration.instance": instance.pk, "orchestration.step": run.step,
            "orchestration.attempt": run.attempt,
        }),
    ):  # fmt: skip
        return _execute(run, instance)


def _execute(run: StepRun, instance: ProcessInstance) -> Outcome:
    step = definition_of(instance.version).step(run.step)
    context = StepContext(instance.pk, run.step, run.attempt, run.idempotency_key)
    variables = sealing.step_input(instance.variables, instance.state, run.step, run.execution)
    try:
        if step["type"] == "service":
            name = step["compensate"] if run.compensation else step["handler"]
            result = get_handler(name)(variables, context)
            if result is not None and not isinstance(result, Mapping):
                raise TypeError(f"handler {name} returned {type(result).__name__}, not a dict")
            outputs = dict(result or {})
        else:
            request = step["compensate"] if run.compensation else step["request"]
            outputs = http_client.call(
                request,
                variables,
                idempotency_key=run.idempotency_key,
                timeout=step_timeout(step),
                allowed_hosts=settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS,
            )
        # What the database would refuse fails this attempt, not the batch's write.
        problem = limits.json_problem(outputs, "outputs")
        if problem:
            return Outcome(run, False, code="INVALID_OUTPUT", message=problem)
        return Outcome(run, True, outputs)
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


def attempt_of(run: StepRun, now: datetime) -> dict[str, Any]:
    """What a step's audit row says of the attempt that ended: its number and
    how long it took (the step duration metrics read it)."""
    started = run.started_at or now
    return {"attempt": run.attempt, "seconds": round((now - started).total_seconds(), 3)}


class Worker:
    def __init__(
        self, name: str | None = None, *, batch: int = 32, threads: int = 8,
        clock: Clock = clock_now, sweep_interval: float = 0.0,
        side: SideSweeps = ((), ()),
    ) -> None:  # fmt: skip
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.batch = batch
        self.clock = clock
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="step")
        # Timer and lease sweeps at most this often (seconds of real time): every
        # NOTIFY wakes every loop, and most wake-ups are for ready steps only.
        self.sweep_interval = sweep_interval
        self._next_sweep = 0.0
        self._next_people: datetime | None = None
        # The people's side (absences before the timers, then sealing, mail
        # and webhooks), at most once a second, when this worker is to run it
        # in its own rounds (tests, commands); the engine loop runs it beside
        # the rounds instead (orchestration/jobs.py), so it never delays one.
        self.side_before, self.side_after = side

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ---- one round -----------------------------------------------------------------------
    def work_once(self, *, waited: float = 0.0) -> int:
        """Do whatever is due now; return how many items were handled. With
        `waited`, claim only steps that have been due at least that many seconds
        (a helping loop takes what the leading loop has not got to)."""
        done = 0
        if time.monotonic() >= self._next_sweep:
            # (On the engine's clock, so a test that moves its clock moves this too.)
            moment = self.clock()
            people = self._next_people is None or moment >= self._next_people
            if people:
                self._next_people = moment + timedelta(seconds=1)
                done += sum(sweeps.guarded(sweep) for sweep in self.side_before)
            timers, leases = self.fire_timers(), self.expire_leases()
            done += timers + leases
            if people:
                done += sum(sweeps.guarded(sweep) for sweep in self.side_after)
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
            runs = store.claim_ready_runs(due_by=now - timedelta(seconds=waited), limit=self.batch)
            if not runs:
                return []
            leased: list[StepRun] = []
            bad: list[tuple[StepRun, Exception | None]] = []
            for run in runs:
                if run.instance.status in HOLDING:
                    bad.append((run, None))  # held back until an operator retries
                    continue
                try:
                    lease(run, run.instance, self.name, now)
                    leased.append(run)
                except Exception as exc:  # a row that does not fit its definition
                    log.exception("run %s of instance %s cannot be leased", run.pk, run.instance_id)
                    bad.append((run, exc))
            store.save_leases(leased)
            if bad:
                self._hold_back_runs(bad, now)
        return leased

    def _hold_back_runs(self, bad: list[tuple[StepRun, Exception | None]], now: datetime) -> None:
        """Push unclaimable runs forward, and put their instances in incident (those
        not locked by someone else right now: the next round gets them)."""
        instances = lock_instances((run.instance_id for run, _ in bad), skip_locked=True)
        writer = Writer(now)
        for run, exc in bad:
            times = int((run.error or {}).get("times", 0)) + 1
            writer.defer_run(run, incidents.defer_delay(times), incidents.DEFERRED)
            instance = instances.get(run.instance_id)
            if exc is not None and instance is not None:
                writer.incident(instance, exc, step=run.step, source="claim")
        writer.flush()

    def release(self, runs: list[StepRun]) -> None:
        StepRun.objects.filter(pk__in=[r.pk for r in runs], worker=self.name).update(
            status=RunStatus.READY, worker="", lease_until=None, started_at=None
        )

    def run_all(self, runs: list[StepRun]) -> list[Outcome]:
        # Always through the pool, even a single run: a handler in this thread
        # could not be abandoned when it outlives its timeout.
        futures: list[tuple[StepRun, Future[Outcome]]] = [
            (run, self.pool.submit(_threaded, run, run.instance)) for run in runs
        ]
        outcomes = []
        # A deadline in elapsed time, not business time (see orchestration/clock.py).
        started = time.monotonic()
        for run, future in futures:
            step = definition_of(run.instance.version).step(run.step)
            left = step_timeout(step).total_seconds() - (time.monotonic() - started)
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
                        message=f"no result within {step_timeout(step).total_seconds():g}s",
                    )
                )
        return outcomes

    def report(self, outcomes: list[Outcome]) -> list[StepRun]:
        """Apply results; return runs claimed for chaining. An instance whose
        result cannot be applied becomes an incident holding that result."""
        now = self.clock()
        return incidents.isolate(
            outcomes,
            lambda batch: self._report(batch, now),
            lambda group, exc: self._report_incident(group, exc, now),
            instance_of=lambda outcome: outcome.run.instance_id,
        )

    def _report(self, outcomes: list[Outcome], now: datetime) -> list[StepRun]:
        instances, current = store.lock_instances_and_runs(
            (o.run.instance_id for o in outcomes), [o.run.pk for o in outcomes]
        )
        writer = Writer(now, worker=self.name)
        for outcome in outcomes:
            run = outcome.run
            instance = instances.get(run.instance_id)
            if not self._current(writer, outcome, instance, current.get(run.pk)):
                continue
            assert instance is not None
            # The row as read under the lock: this body may be a retry of a
            # batch that failed after changing the claimed objects in memory.
            run = current[run.pk]
            event = self._finish_run(writer, run, outcome)
            if instance.status in HOLDING:
                writer.hold(instance, event, step=run.step)
            else:
                self._apply(writer, instance, event, run.step, attempt_of(run, now))
        writer.flush()
        # Each claimed run already holds its (updated) instance, including
        # children this transaction started, which were never in `instances`.
        return writer.claimed

    def _report_incident(self, outcomes: list[Outcome], exc: Exception, now: datetime) -> None:
        """The results stand (their runs end as reported); the events they carry wait
        in the incident for an operator's retry."""
        instances, current = store.lock_instances_and_runs(
            (o.run.instance_id for o in outcomes), [o.run.pk for o in outcomes]
        )
        writer = Writer(now)
        events = []
        instance = instances.get(outcomes[0].run.instance_id)  # one instance per group
        for outcome in outcomes:
            if self._current(writer, outcome, instance, current.get(outcome.run.pk)):
                events.append(self._finish_run(writer, current[outcome.run.pk], outcome))
        if events and instance is not None:
            writer.incident(instance, exc, step=failed_step(exc, outcomes[0].run.step),
                            source="report", replay=events)  # fmt: skip
        writer.flush()

    def _current(
        self, writer: Writer, outcome: Outcome, instance: ProcessInstance | None,
        row: StepRun | None,
    ) -> bool:  # fmt: skip
        """The fence: only a run still running under this worker may report."""
        if (
            instance is not None
            and row
            and row.status == RunStatus.RUNNING
            and (row.worker == self.name)
        ):
            return True
        run = outcome.run
        writer.record(
            instance or run.instance,
            AuditKind.STEP_RESULT_DISCARDED,
            step=run.step,
            payload={
                "run": run.pk,
                "attempt": run.attempt,
                "ok": outcome.ok,
                "run_status": row and row.status,
            },
        )
        return False

    @staticmethod
    def _finish_run(writer: Writer, run: StepRun, outcome: Outcome) -> Event:
        """End the attempt as reported; return the event that tells the core."""
        if outcome.ok:
            writer.end_run(run, RunStatus.SUCCEEDED)
            return StepSucceeded(
                run.token, run.step, run.execution, outcome.outputs, run.compensation
            )
        code = limits.storable_text(outcome.code, 100)
        message = limits.storable_text(outcome.message)
        writer.end_run(run, RunStatus.FAILED, {"code": code, "message": message})
        return StepFailed(
            run.token,
            run.step,
            run.execution,
            run.attempt,
            code,
            message,
            outcome.retryable,
            outcome.retry_after,
            run.compensation,
        )

    def _apply(
        self, writer: Writer, instance: ProcessInstance, event: Event, step: str,
        payload: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        try:
            writer.apply(instance, event, payload=payload)
        except core.EngineError as exc:
            writer.record(
                instance,
                AuditKind.EVENT_IGNORED,
                step=step,
                # What the event carried (a timer's id) stays in the record.
                payload={**(payload or {}), "event": type(event).__name__, "why": str(exc)},
            )

    # ---- leases --------------------------------------------------------------------------
    def expire_leases(self) -> int:
        """Runs whose lease ran out count as a timed-out attempt (retried by policy)."""
        now = self.clock()
        picked: list[tuple[int, int]] = []
        try:
            with transaction.atomic():
                runs = list(
                    StepRun.objects.select_for_update(skip_locked=True, of=("self",))
                    # An external task's expired lock only makes it fetchable again.
                    .filter(status=RunStatus.RUNNING, topic="", lease_until__lt=now)
                    .order_by("lease_until")[: self.batch]
                )
                picked = [(run.pk, run.instance_id) for run in runs]
                self._expire(runs, now)
        except Exception as exc:
            if not picked or isinstance(exc, incidents.NOT_ISOLATED):
                raise
            # Each retry locks the instance first, then re-reads its runs: a run
            # that was reported meanwhile is left alone.
            incidents.fall_back(
                picked, exc,
                lambda batch: self._expire(self._expiring([pk for pk, _ in batch], now), now),
                lambda group, error: self._expire(
                    self._expiring([pk for pk, _ in group], now), now, incident=error
                ),
                instance_of=lambda item: item[1],
            )  # fmt: skip
        return len(picked)

    @staticmethod
    def _expiring(ids: list[int], now: datetime) -> list[StepRun]:
        return list(
            StepRun.objects.select_for_update(skip_locked=True, of=("self",)).filter(
                pk__in=ids, status=RunStatus.RUNNING, lease_until__lt=now
            )
        )

    def _expire(
        self, runs: list[StepRun], now: datetime, incident: Exception | None = None
    ) -> list[int]:
        instances = lock_instances((r.instance_id for r in runs), skip_locked=True)
        runs = [r for r in runs if r.instance_id in instances]  # the rest: next round
        writer = Writer(now)
        held: dict[int, list[StepFailed]] = {}
        for run in runs:
            error = {"code": "LEASE_EXPIRED", "message": f"worker {run.worker} gave no result"}
            writer.end_run(run, RunStatus.TIMED_OUT, error)
            event = StepFailed(
                run.token, run.step, run.execution, run.attempt, "LEASE_EXPIRED",
                error["message"], True, None, run.compensation,
            )  # fmt: skip
            instance = instances[run.instance_id]
            if incident is not None:
                held.setdefault(instance.pk, []).append(event)
            elif instance.status in HOLDING:
                writer.hold(instance, event, step=run.step)
            else:
                self._apply(writer, instance, event, run.step, attempt_of(run, now))
        for pk, events in held.items():
            assert incident is not None  # only then is anything held
            writer.incident(instances[pk], incident, step=failed_step(incident, events[0].step),
                            source="lease", replay=events)  # fmt: skip
        writer.flush()
        return [run.pk for run in runs]

    # ---- timers --------------------------------------------------------------------------
    def fire_timers(self) -> int:
        now = self.clock()
        picked: list[tuple[int, int]] = []
        try:
            with transaction.atomic():
                timers = list(
                    Timer.objects.select_for_update(skip_locked=True)
                    .filter(status=TimerStatus.PENDING, due_at__lte=now)
                    .order_by("due_at")[: self.batch]
                )
                picked = [(timer.pk, timer.instance_id) for timer in timers]
                claimed = self._fire(timers, now)
        except Exception as exc:
            if not picked or isinstance(exc, incidents.NOT_ISOLATED):
                raise
            claimed = incidents.fall_back(
                picked, exc,
                lambda batch: self._fire(self._pending([pk for pk, _ in batch]), now),
                lambda group, error: self._hold_back_timers(
                    self._pending([pk for pk, _ in group]), error, now
                ),
                instance_of=lambda item: item[1],
            )  # fmt: skip
        if claimed:
            # Chained runs from timers: run them now like any other claimed work.
            runs = claimed
            while runs:
                runs = self.report(self.run_all(runs))
        return len(picked)

    @staticmethod
    def _pending(ids: list[int]) -> list[Timer]:
        return list(
            Timer.objects.select_for_update(skip_locked=True).filter(
                pk__in=ids, status=TimerStatus.PENDING
            )
        )

    def _fire(self, timers: list[Timer], now: datetime) -> list[StepRun]:
        # Instances are locked while the timer rows are held, so SKIP LOCKED:
        # waiting could deadlock with a service holding the instance. What is
        # skipped stays pending for the next round.
        instances = lock_instances((t.instance_id for t in timers), skip_locked=True)
        timers = [t for t in timers if t.instance_id in instances]
        writer = Writer(now, worker=self.name)
        held: list[Timer] = []
        for timer in timers:
            instance = instances[timer.instance_id]
            if instance.status in HOLDING:
                held.append(timer)
                continue
            writer.fire(timer)
            # The transition's audit row carries the lateness: a fired timer
            # is visible (and measurable) in the audit log.
            lateness = {"timer": timer.pk, "timer_kind": timer.kind,
                        "lateness_s": (now - timer.due_at).total_seconds()}  # fmt: skip
            self._apply(writer, instance, _timer_event(timer), timer.step, lateness)
        for timer in held:
            _push_forward(writer, timer)
        writer.flush()
        return writer.claimed

    def _hold_back_timers(self, timers: list[Timer], exc: Exception, now: datetime) -> list[Any]:
        """A timer whose handling raised stays pending, pushed forward with backoff,
        and its instance becomes an incident."""
        instances = lock_instances((t.instance_id for t in timers), skip_locked=True)
        timers = [t for t in timers if t.instance_id in instances]
        writer = Writer(now)
        for timer in timers:
            _push_forward(writer, timer)
        for pk in {t.instance_id for t in timers}:
            step = next(t.step for t in timers if t.instance_id == pk)
            writer.incident(instances[pk], exc, step=failed_step(exc, step), source="timer")
        writer.flush()
        return []


def _push_forward(writer: Writer, timer: Timer) -> None:
    writer.defer_timer(timer, incidents.defer_delay(int(timer.payload.get("deferred", 0)) + 1))


def _timer_event(timer: Timer) -> Event:
    if timer.kind == TimerKind.CHILD_FINISHED:
        p = timer.payload
        return ChildFinished(
            timer.token, timer.step, p["status"], p.get("result", ""), p.get("variables", {}),
            str(p.get("error", "")),
        )  # fmt: skip
    if timer.kind == TimerKind.CANCEL:
        return Cancel(timer.payload.get("reason", ""))
    if timer.kind == TimerKind.MESSAGE:
        return MessageReceived(timer.payload["name"], timer.payload.get("payload", {}))
    return TimerFired(timer.token, timer.step, timer.kind, int(timer.payload.get("level", 0)))
