"""Pure transitions: (definition, snapshot, event, now) -> (snapshot, effects).

No database, queue or clock here: the runtime locks the instance, calls
`transition()` and persists what comes back, all in one transaction. Because
`now` is an argument and jitter is derived from the idempotency key, the same
inputs always give the same outputs.

The state of an instance is a set of tokens, each parked at one step:
  - `step`     waiting for an automated step attempt (service, http)
  - `task`     waiting for a person (approval)
  - `timer`    waiting for a timer (wait: timer/until)
  - `message`  waiting for a named message (wait: message), maybe with a timeout
  - `child`    waiting for a sub-process
  - `compensating` waiting for compensations to finish (compensate step)
  - `failed`   stopped by an error an operator must retry
Decisions, parallel splits, joins and ends are instantaneous: a transition runs
tokens through them until every token is parked again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from orchestration.audit import AuditKind
from orchestration.definitions.durations import parse_duration
from orchestration.definitions.graph import all_steps, regions_of
from orchestration.definitions.validate import parallel_joins
from orchestration.engine import sealing
from orchestration.engine.approvals import ApprovalRules
from orchestration.engine.attached import ATTACHABLE, MAX_INSTANT_STEPS, EventRules
from orchestration.engine.calendars import calendar_of, deadline
from orchestration.engine.each import EachRules
from orchestration.engine.evaluation import (
    StepError,
    as_datetime,
    evaluate,
    open_task,
    render,
    truthy,
)
from orchestration.engine.events import (
    Audit,
    AwaitMessage,
    Cancel,
    CancelToken,
    ChildFinished,
    Effect,
    Event,
    Finished,
    Jumped,
    MessageReceived,
    Moved,
    RetryFailed,
    RunStep,
    StartChild,
    Started,
    StartTimer,
    StepFailed,
    StepSucceeded,
    TaskVoted,
    Tell,
    TimerFired,
    VariablesChanged,
)
from orchestration.engine.interventions import InterventionRules
from orchestration.engine.joins import JoinRules
from orchestration.engine.regions import RegionRules
from orchestration.engine.retries import backoff_delay, retry_policy
from orchestration.engine.state import (
    TERMINAL,
    EngineError,
    Snapshot,
    TimerKind,
    Wait,
    awaited,
    is_final,
    rename_steps,
)

__all__ = ["Definition", "EngineError", "Transition", "transition"]

RUNNING, WAITING, COMPLETED, FAILED = "running", "waiting", "completed", "failed"
CANCELLED, COMPENSATING, COMPENSATED = "cancelled", "compensating", "compensated"


@dataclass(frozen=True)
class Definition:
    """A published version's spec with what the engine derives from it once."""

    spec: Mapping[str, Any]

    @cached_property
    def steps(self) -> dict[str, Mapping[str, Any]]:
        """Every step by id, the steps of regions too."""
        return all_steps(self.spec)

    @cached_property
    def joins(self) -> dict[str, str | None]:
        return parallel_joins(self.steps)

    @cached_property
    def has_conditions(self) -> bool:
        """Some event or first_of branch fires on a condition (checked after
        every transition only then)."""
        return any("condition" in e for step in self.steps.values()
                   for field in ("events", "first_of") for e in step.get(field) or [])  # fmt: skip

    @cached_property
    def regions(self) -> dict[str, str]:
        """The region holding each step that is inside one."""
        return regions_of(self.spec)

    @cached_property
    def sensitive_variables(self) -> frozenset[str]:
        declared = self.spec.get("variables") or {}
        return frozenset(name for name, decl in declared.items() if decl.get("sensitive"))

    @cached_property
    def sensitive_fields(self) -> dict[str, frozenset[str]]:
        """The sensitive form fields of each step that has any."""
        out = {}
        for step_id, step in self.steps.items():
            names = frozenset(f["name"] for f in step.get("form") or [] if f.get("sensitive"))
            if names:
                out[step_id] = names
        return out

    def step(self, step_id: str) -> Mapping[str, Any]:
        return self.steps[step_id]


@dataclass
class Transition:
    snapshot: Snapshot
    effects: list[Effect] = field(default_factory=list)


def transition(
    definition: Definition, snapshot: Snapshot, event: Event, *, now: datetime, key: str = ""
) -> Transition:
    """Apply one event. `key` identifies the instance (for jitter); `snapshot` is not
    modified. Raises EngineError when the event does not apply."""
    own = Snapshot(
        snapshot.status,
        _copy_json(snapshot.variables),
        _copy_json(snapshot.state),
        snapshot.result,
        _copy_json(snapshot.error),
        snapshot.sealed,
    )
    machine = _Machine(definition, own, now, key)
    machine.handle(event)
    return Transition(machine.snap, machine.effects)


def _copy_json(value: Any) -> Any:
    """A copy of JSON data (what variables and state are): several times faster
    than copy.deepcopy, which a transition used to spend a tenth of its time in."""
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


class _Machine(ApprovalRules, EachRules, RegionRules, EventRules, JoinRules, InterventionRules):
    def __init__(self, definition: Definition, snap: Snapshot, now: datetime, key: str) -> None:
        self.d, self.snap, self.now, self.key = definition, snap, now, key
        self.effects: list[Effect] = []
        self.instant_steps = 0

    # ---- helpers -----------------------------------------------------------------------
    @property
    def state(self) -> dict[str, Any]:
        return self.snap.state

    @property
    def tokens(self) -> dict[str, dict[str, Any]]:
        tokens: dict[str, dict[str, Any]] = self.state["tokens"]
        return tokens

    def shown(self, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """The variables as a title or message may show them (sensitive ones masked)."""
        return sealing.shown(
            self.d, self.snap.variables if variables is None else variables, self.snap.sealed
        )

    def _new_id(self) -> str:
        self.state["seq"] += 1
        return str(self.state["seq"])

    def _token_at(self, token: str, step: str, wait: str) -> dict[str, Any]:
        found = self.tokens.get(token)
        if found is None or found["step"] != step or found["wait"] != wait:
            raise EngineError("stale", f"no token {token} waiting at {step} ({wait})")
        return found

    def _require_live(self) -> None:
        if is_final(self.snap):
            raise EngineError("finished", f"the instance is {self.snap.status}")

    def _fail(self, token: str | None, step: str, code: str, message: str, **extra: Any) -> None:
        self.snap.status = FAILED
        self.snap.error = {"step": step, "code": code, "message": message, "token": token, **extra}
        if token is not None and token in self.tokens:
            self.tokens[token]["wait"] = Wait.FAILED
        self.effects.append(
            Audit(AuditKind.INSTANCE_FAILED, step, {"code": code, "message": message})
        )

    def _settle(self) -> None:
        """Running while automated work is in flight, waiting while only people,
        timers, messages or children are awaited."""
        if self.snap.status in TERMINAL:
            return
        if self.state["comp"] is not None:
            self.snap.status = COMPENSATING
            return
        busy = any(t["wait"] == Wait.STEP for t in self.tokens.values())
        self.snap.status = RUNNING if busy or not self.tokens else WAITING

    # ---- dispatch ----------------------------------------------------------------------
    def handle(self, event: Event) -> None:
        if isinstance(event, Started):
            self.snap.status = RUNNING
            token = self._new_id()
            self.tokens[token] = {"step": None, "frames": [], "wait": None}
            self._advance(token, self.d.spec["start"])
        elif isinstance(event, StepSucceeded):
            self._require_live()
            self._on_step_succeeded(event)
        elif isinstance(event, StepFailed):
            self._require_live()
            self._on_step_failed(event)
        elif isinstance(event, TaskVoted):
            self._require_live()
            self._on_vote(event)
        elif isinstance(event, TimerFired):
            self._require_live()
            self._on_timer(event)
        elif isinstance(event, MessageReceived):
            self._require_live()
            self._on_message(event)
        elif isinstance(event, ChildFinished):
            self._require_live()
            self._on_child(event)
        elif isinstance(event, Cancel):
            self._on_cancel(event)
        elif isinstance(event, RetryFailed):
            self._on_retry()
        elif isinstance(event, Moved):
            self._on_moved(event)
        elif isinstance(event, Jumped):
            self._require_live()
            self._on_jump(event)
        elif isinstance(event, VariablesChanged):
            self._require_live()
            self.snap.variables.update(_copy_json(event.values))
        if self.d.has_conditions:
            self._check_conditions()
        self._settle()

    # ---- movement ----------------------------------------------------------------------
    def _advance(self, token: str, step_id: str) -> None:
        """Move a token to `step_id` and through every instantaneous step after it."""
        while True:
            self.instant_steps += 1
            if self.instant_steps > MAX_INSTANT_STEPS:
                self._fail(token, step_id, "LOOP", "too many instantaneous steps in one transition")
                return
            tok = self.tokens[token]
            tok.pop("held", None)
            if tok.pop("events", None) is not None:
                # Leaving a step with attached events: their timers go.
                self.effects.append(CancelToken(token, Wait.TIMER))
            step = self.d.step(step_id)
            kind = step["type"]
            execution = self.state["runs"].get(step_id, 0) + 1
            self.state["runs"][step_id] = execution
            # Where the token comes from and how long it was there: the path's
            # edges and the time spent in each step (the SLA report's heatmap).
            came = {"token": token, "from": tok.get("step") or ""}
            if tok.get("since"):
                spent = self.now - datetime.fromisoformat(tok["since"])
                came["seconds"] = round(max(spent.total_seconds(), 0.0), 3)
            tok.update(step=step_id, execution=execution, wait=None, since=self.now.isoformat())
            tok.pop("message", None)
            self.effects.append(Audit(AuditKind.STEP_ENTERED, step_id, came))
            try:
                nxt = self._enter(token, tok, step_id, step, kind, execution)
            except StepError as exc:
                self._fail(token, step_id, "EVALUATION", str(exc))
                return
            except Exception as exc:
                # Not the definition's fault: the runtime makes it an incident of
                # this instance and needs to say where it happened.
                if not hasattr(exc, "engine_step"):
                    exc.engine_step = step_id  # type: ignore[attr-defined]
                raise
            if nxt is None:
                if "events" in step and tok.get("wait") in ATTACHABLE and token in self.tokens:
                    self._attach(token, tok, step_id, step)
                return
            token, step_id = nxt

    def _enter(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any], kind: str,
        execution: int,
    ) -> tuple[str, str] | None:  # fmt: skip
        """Act on entering a step; return the (token, step) to continue with, if any."""
        if kind in {"service", "http"}:
            if "for_each" in step:
                return self._enter_each(token, tok, step_id, step)
            tok["wait"] = Wait.STEP
            self.effects.append(RunStep(token, step_id, execution, 1, self.now))
            return None
        if kind == "approval":
            tok["wait"] = Wait.TASK
            calendar = calendar_of(self.d.spec)
            for level, escalation in enumerate(step.get("escalation") or []):
                due = deadline(self.now, escalation["after"], calendar)
                self.effects.append(
                    StartTimer(token, step_id, TimerKind.ESCALATION, due, level=level)
                )
            if "for_each" in step:
                return self._enter_chain(token, tok, step_id, step, execution)
            self.effects.append(
                open_task(
                    token,
                    step_id,
                    step,
                    execution,
                    self.snap.variables,
                    self.now,
                    calendar,
                    shown=self.shown(),
                )
            )
            return None
        if kind == "decision":
            seen = self._with_active_steps(token)
            for branch in step["branches"]:
                if truthy(branch["when"], seen):
                    return token, branch["next"]
            return token, step["default"]
        if kind == "wait":
            self._enter_wait(token, tok, step_id, step)
            return None
        if kind == "subprocess":
            if step.get("wait") is False:
                self._start_unawaited(step_id, step)
                return token, step["next"]
            if "for_each" in step:
                return self._enter_each(token, tok, step_id, step)
            tok["wait"] = Wait.CHILD
            child_vars = {
                name: evaluate(expr, self.snap.variables)
                for name, expr in (step.get("input") or {}).items()
            }
            self.effects.append(
                StartChild(token, step_id, step["definition"], step.get("version"), child_vars)
            )
            return None
        if kind == "parallel":
            return self._split(token, tok, step_id, step)
        if kind == "join":
            return self._join(token, tok, step_id, step)
        if kind == "compensate":
            self._begin_compensation(token, then=step["next"], cancel=False)
            return None
        if kind == "region":
            return self._enter_region(token, tok, step_id, step)
        if kind == "notify":
            to, variables, shown = step["to"], self.snap.variables, self.shown()
            self.effects.append(Tell(
                step_id, [render(u, variables) for u in to.get("users") or []],
                [render(g, variables) for g in to.get("groups") or []], to.get("resolver"),
                render(step["subject"], shown), render(step.get("message", ""), shown),
            ))  # fmt: skip
            return token, step["next"]
        if kind == "end":
            if step.get("terminate") is False:
                del self.tokens[token]
                return self._branch_ended(tok["frames"], step_id, step.get("result", ""))
            if step_id in self.d.regions:
                return self._end_region(token, tok, step_id, step)
            self._finish(step.get("status", COMPLETED), step.get("result", ""), keep=token)
            return None
        raise StepError(f"unknown step type {kind!r}")

    def _with_active_steps(self, token: str) -> dict[str, Any]:
        """What a branch condition sees: the variables and `active_steps`, the
        steps where the instance's other flows are parked now (a milestone:
        "only while the order is still at `ship`")."""
        active = sorted({t["step"] for k, t in self.tokens.items() if k != token and t["step"]})
        return {**self.snap.variables, "active_steps": active}

    def _enter_wait(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> None:
        if "first_of" in step:
            self._enter_first_of(token, tok, step_id, step)
            return None
        if "message" in step:
            tok["wait"] = Wait.MESSAGE
            tok["message"] = step["message"]
            self.effects.append(AwaitMessage(token, step_id, (step["message"],)))
            if "timeout" in step:
                due = self.now + parse_duration(step["timeout"])
                self.effects.append(StartTimer(token, step_id, TimerKind.MESSAGE_TIMEOUT, due))
            return None
        tok["wait"] = Wait.TIMER
        if "timer" in step:
            due = self.now + parse_duration(step["timer"])
        else:
            due = as_datetime(evaluate(step["until"], self.snap.variables))
        self.effects.append(StartTimer(token, step_id, TimerKind.WAIT, max(due, self.now)))
        return None

    def _finish(self, status: str, result: str, *, keep: str | None = None) -> None:
        for other in list(self.tokens):
            if other != keep:
                self.effects.append(CancelToken(other, self.tokens[other].get("wait") or ""))
        self.tokens.clear()
        self.state["joins"].clear()
        self.state.pop("binds", None)
        self.state.pop("regions", None)
        self.state.pop("locks", None)
        self.snap.status = status
        self.snap.result = result
        self.effects.append(Audit(AuditKind(f"instance.{status}"), "", {"result": result}))
        self.effects.append(Finished(status, result))

    # ---- automated steps -----------------------------------------------------------------
    def _on_step_succeeded(self, event: StepSucceeded) -> None:
        if event.compensation:
            self._compensation_done(event)
            return
        tok = self._token_at(event.token, event.step, Wait.STEP)
        step = self.d.step(event.step)
        if "of" in tok:  # an entry of a for_each step
            if "compensate" in step:
                self.state["done"].append([event.step, event.execution])
            self._entry_done(event.token, self._entry_result(step, event.outputs))
            return
        if step["type"] == "service":
            for name in step.get("outputs") or []:
                if name in event.outputs:
                    self.snap.variables[name] = event.outputs[name]
        elif step["type"] == "http" and step.get("result"):
            self.snap.variables[step["result"]] = event.outputs.get("body")
        if "compensate" in step:
            self.state["done"].append([event.step, event.execution])
        self._advance(event.token, step["next"])

    def _on_step_failed(self, event: StepFailed) -> None:
        step = self.d.step(event.step)
        if event.compensation:
            comp = self.state["comp"]
            if (
                not comp
                or not comp["pending"]
                or comp["pending"][0] != [event.step, event.execution]
            ):
                raise EngineError("stale", f"no compensation of {event.step} is awaited")
        else:
            self._token_at(event.token, event.step, Wait.STEP)
        max_attempts, _, _ = retry_policy(step)
        if event.retryable and event.attempt < max_attempts:
            delay = backoff_delay(step, event.attempt, salt=f"{self.key}:{event.step}")
            if event.retry_after:
                delay = max(delay, timedelta(seconds=event.retry_after))
            self.effects.append(
                RunStep(
                    event.token,
                    event.step,
                    event.execution,
                    event.attempt + 1,
                    self.now + delay,
                    compensation=event.compensation,
                )
            )
            self.effects.append(
                Audit(
                    AuditKind.STEP_RETRY_SCHEDULED,
                    event.step,
                    {
                        "attempt": event.attempt + 1,
                        "delay_s": delay.total_seconds(),
                        "code": event.code,
                    },
                )
            )
            return
        if event.compensation:
            self._fail(
                None,
                event.step,
                event.code,
                f"compensation of {event.step} failed: {event.message}",
                compensation=True,
                execution=event.execution,
                attempt=event.attempt,
            )
            return
        route = (step.get("on_error") or {}).get(event.code) if not event.retryable else None
        if (
            route is None
            and not event.retryable
            and self._catch(event.token, event.step, event.code, event.message, {})
        ):
            return
        if route is not None:
            self.snap.variables[event.step] = {
                "error": {"code": event.code, "message": event.message}
            }
            self.effects.append(
                Audit(AuditKind.STEP_ERROR_ROUTED, event.step, {"code": event.code})
            )
            if "of" in self.tokens[event.token]:
                self._entry_failed_to_route(event.token, route)
                return
            self._advance(event.token, route)
            return
        self._fail(
            event.token,
            event.step,
            event.code,
            event.message,
            execution=event.execution,
            attempt=event.attempt,
        )

    # ---- timers, messages, children ------------------------------------------------------
    def _on_timer(self, event: TimerFired) -> None:
        if event.kind == TimerKind.WAIT:
            self._token_at(event.token, event.step, Wait.TIMER)
            self._advance(event.token, self.d.step(event.step)["next"])
        elif event.kind == TimerKind.ESCALATION:
            self._escalate(event)
        elif event.kind == TimerKind.ATTACHED:
            found = self.tokens.get(event.token)
            # A failed step waits for an operator, not for its events.
            if (found is None or found["step"] != event.step or "events" not in found
                    or found["wait"] not in ATTACHABLE):  # fmt: skip
                raise EngineError("stale", f"no token {event.token} at {event.step} with events")
            self._interrupt(event.token, event.step, event.level, {})
        elif event.kind == TimerKind.FIRST_OF:
            self._token_at(event.token, event.step, Wait.MESSAGE)
            self._first_came(event.token, event.step, event.level, {})
        elif event.kind == TimerKind.MESSAGE_TIMEOUT:
            self._token_at(event.token, event.step, Wait.MESSAGE)
            self.effects.append(Audit(AuditKind.WAIT_TIMED_OUT, event.step))
            self._advance(event.token, self.d.step(event.step)["on_timeout"])
        else:
            raise EngineError("unknown_timer", f"unknown timer kind {event.kind!r}")

    def _on_message(self, event: MessageReceived) -> None:
        waiting = [
            (token, tok)
            for token, tok in self.tokens.items()
            if event.name in awaited(tok) and tok["wait"] != Wait.FAILED
        ]
        if not waiting:
            raise EngineError("no_subscriber", f"nothing is waiting for message {event.name!r}")
        for token, tok in waiting:
            step_id = tok["step"]
            if event.name in (tok.get("events") or []):
                events = self.d.step(step_id)["events"]
                index = next(i for i, e in enumerate(events) if e.get("message") == event.name)
                self._interrupt(token, step_id, index, dict(event.payload))
                continue
            if event.name == tok.get("adds"):
                if "chain" in tok:
                    self._add_chain_entry(token, tok, event.payload)
                else:
                    self._add_entry(token, tok, event.payload)
                continue
            branches = self.d.step(step_id).get("first_of")
            if branches:
                index = next(i for i, b in enumerate(branches) if b.get("message") == event.name)
                self._first_came(token, step_id, index, dict(event.payload))
                continue
            self.snap.variables[step_id] = dict(event.payload)
            self.effects.append(CancelToken(token, Wait.MESSAGE))
            self._advance(token, self.d.step(step_id)["next"])

    def _on_child(self, event: ChildFinished) -> None:
        if not event.token:  # a child started without waiting for it could not start
            self.effects.append(Audit(AuditKind.CHILD_FINISHED, event.step,
                                      {"status": event.status, "error": event.error}))  # fmt: skip
            return
        tok = self._token_at(event.token, event.step, Wait.CHILD)
        step = self.d.step(event.step)
        outcome = {"result": event.result, "status": event.status, "variables": event.variables}
        if "of" in tok and event.status == COMPLETED:
            self._entry_done(event.token, outcome)
            return
        if step.get("result") and "of" not in tok:
            self.snap.variables[step["result"]] = outcome
        if event.status == FAILED and self._catch(
            event.token,
            event.step,
            event.result,
            f"sub-process ended failed: {event.result}",
            {"child": outcome},
        ):
            return
        if event.status != COMPLETED:
            self._fail(
                event.token,
                event.step,
                "CHILD_" + event.status.upper(),
                f"sub-process ended {event.status}" + (f": {event.error}" if event.error else ""),
            )
            return
        self._advance(event.token, step["next"])

    # ---- compensation, cancellation, retry ------------------------------------------------
    def _begin_compensation(
        self, token: str | None, *, then: str | None, cancel: bool,
        only: set[str] | None = None,
    ) -> None:  # fmt: skip
        """Undo the completed steps with `compensate`, newest first (`only`
        those among these steps: a region's), then go on at `then`, or end
        compensated (`cancel`)."""
        done = self.state["done"]
        undo = [item for item in done if only is None or item[0] in only]
        pending = [list(item) for item in reversed(undo)]
        self.state["done"] = [item for item in done if item not in undo]
        if token is not None:
            self.tokens[token]["wait"] = Wait.COMPENSATING
        self.state["comp"] = {"pending": pending, "token": token, "then": then, "cancel": cancel}
        # (Cancelling a failed instance: it is compensating now, not failed.)
        self.snap.status = COMPENSATING
        self.effects.append(
            Audit(AuditKind.COMPENSATION_STARTED, "", {"steps": [p[0] for p in pending]})
        )
        self._next_compensation()

    def _next_compensation(self) -> None:
        comp = self.state["comp"]
        if comp["pending"]:
            step_id, execution = comp["pending"][0]
            self.effects.append(
                RunStep(comp["token"] or "", step_id, execution, 1, self.now, compensation=True)
            )
            return
        self.state["comp"] = None
        self.effects.append(Audit(AuditKind.COMPENSATION_FINISHED))
        if comp["cancel"]:
            self._finish(COMPENSATED, self.snap.result or "cancelled")
        elif comp["token"] not in self.tokens:
            return  # its branch was withdrawn (a partial join passed) while it compensated
        else:
            self.snap.status = RUNNING
            self._advance(comp["token"], comp["then"])

    def _compensation_done(self, event: StepSucceeded) -> None:
        comp = self.state["comp"]
        if not comp or not comp["pending"] or comp["pending"][0] != [event.step, event.execution]:
            raise EngineError("stale", f"no compensation of {event.step} is awaited")
        comp["pending"].pop(0)
        self._unbind(event.step, event.execution)
        self._next_compensation()

    def _on_cancel(self, event: Cancel) -> None:
        self._require_live()
        if self.snap.status == COMPENSATING:
            raise EngineError("compensating", "the instance is already compensating")
        for token, tok in list(self.tokens.items()):
            self.effects.append(CancelToken(token, tok.get("wait") or ""))
        self.tokens.clear()
        self.state["joins"].clear()
        self.state.pop("regions", None)
        self.state.pop("locks", None)
        self.snap.error = None
        self.effects.append(
            Audit(AuditKind.INSTANCE_CANCEL_REQUESTED, "", {"reason": event.reason})
        )
        if self.state["done"]:
            self._begin_compensation(None, then=None, cancel=True)
        else:
            self._finish(CANCELLED, "cancelled")

    def _on_retry(self) -> None:
        if self.snap.status != FAILED or not self.snap.error:
            raise EngineError("not_failed", "only a failed instance can be retried")
        error = self.snap.error
        step_id = error["step"]
        if error.get("compensation"):
            self.snap.status = COMPENSATING
            self.snap.error = None
            execution = error["execution"]
            self.effects.append(
                RunStep("", step_id, execution, error["attempt"] + 1, self.now, compensation=True)
            )
            self.effects.append(Audit(AuditKind.INSTANCE_RETRIED, step_id))
            return
        token = str(error.get("token") or "")
        tok = self.tokens.get(token) if token else None
        if tok is None or tok["wait"] != Wait.FAILED:
            raise EngineError("not_retryable", f"step {step_id} cannot be retried")
        self.snap.status = RUNNING
        self.snap.error = None
        self.effects.append(Audit(AuditKind.INSTANCE_RETRIED, step_id))
        kind = self.d.step(step_id)["type"]
        if kind in {"service", "http"}:
            tok["wait"] = Wait.STEP
            attempt = int(error.get("attempt", 0)) + 1
            self.effects.append(RunStep(token, step_id, tok["execution"], attempt, self.now))
        elif "of" in tok:  # a for_each entry's child: start it again
            self._run_entry(token, tok, step_id, self.d.step(step_id))
        else:  # a failed evaluation or child: enter the step afresh
            self.state["runs"][step_id] = tok["execution"] - 1
            self._advance(token, step_id)

    def _on_moved(self, event: Moved) -> None:
        rename_steps(self.snap, event.mapping)
        self.effects.append(Audit(AuditKind.INSTANCE_MIGRATED, "", {"mapping": event.mapping}))
