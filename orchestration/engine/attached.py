"""The core's rules for events attached to a step and for `first_of`
waits: what a step waits for beside its own work, interrupting it or
starting a path beside it, error events, and conditions checked after
every transition.

A mixin of the core's state machine (engine/core.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from orchestration.audit import AuditKind
from orchestration.definitions.durations import parse_duration
from orchestration.engine.evaluation import StepError, as_datetime, evaluate, truthy
from orchestration.engine.events import Audit, AwaitMessage, CancelToken, StartTimer
from orchestration.engine.machine import MachineParts
from orchestration.engine.state import TERMINAL, TimerKind, Wait

# What a token may be parked on while events attached to its step wait too.
ATTACHABLE = frozenset({Wait.TASK, Wait.STEP, Wait.CHILD, Wait.ENTRIES, Wait.REGION,
                        Wait.TIMER, Wait.MESSAGE})  # fmt: skip
# A transition that passes more instantaneous steps than this is a loop of decisions.
MAX_INSTANT_STEPS = 1000


def event_label(event: Mapping[str, Any]) -> str:
    """How an event is named where it fired: its message or error code, or
    the kind of trigger (timer, until, condition)."""
    return str(event.get("message") or event.get("error")
               or next(k for k in ("timer", "until", "condition") if k in event))  # fmt: skip


class EventRules(MachineParts):
    def _attach(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> None:
        """A token parked at a step with `events` also waits for them (by
        name, or by business key through the API)."""
        tok["events"] = self._await_events(token, step_id, step["events"], TimerKind.ATTACHED)

    def _await_events(
        self, token: str, step_id: str, events: list[Mapping[str, Any]], kind: str
    ) -> list[str]:
        """Wait for a list of events (a step's attached `events`, a `first_of`
        wait's branches): their messages at once, and a timer of `kind` per
        timer event whose `level` is the event's index. The message names."""
        names = [event["message"] for event in events if "message" in event]
        if names:
            self.effects.append(AwaitMessage(token, step_id, tuple(names)))
        for index, event in enumerate(events):
            due = self._event_due(event)
            if due is not None:
                self.effects.append(StartTimer(token, step_id, kind, due, level=index))
        return names

    def _event_due(self, event: Mapping[str, Any]) -> datetime | None:
        """When a `timer` or `until` event fires (None for a message)."""
        if "timer" in event:
            return self.now + parse_duration(event["timer"])
        if "until" in event:
            return max(as_datetime(evaluate(event["until"], self.snap.variables)), self.now)
        return None

    def _interrupt(self, token: str, step_id: str, index: int, payload: dict[str, Any]) -> None:
        """An event attached to the step a token is parked at came: the step is
        withdrawn (its tasks closed as withdrawn, a running attempt fenced off,
        queued attempts, timers and children cancelled) and the flow goes on
        from the event's `next`. Its payload, with `interrupted_by` (the
        message name, `timer` or `until`) and `branch` (its index), lands
        under the step id."""
        event = self.d.step(step_id)["events"][index]
        label = event_label(event)
        if event.get("interrupting") is False:
            self._beside(token, step_id, index, event, payload)
            return
        tok = self.tokens[token]
        tok.pop("events", None)
        tok.pop("chain", None)
        self.snap.variables[step_id] = {**payload, "interrupted_by": label, "branch": index}
        self._withdraw_entries(tok, step_id, self.d.step(step_id))
        if "region" in tok:
            self._close_region(tok["region"])
        self._dequeue(token, tok)
        tok.pop("queued", None)
        self.effects.append(
            Audit(AuditKind.STEP_INTERRUPTED, step_id, {"by": label, "branch": index})
        )
        self.effects.append(CancelToken(token, "", step_id, withdrawn=True))
        if event.get("compensate"):
            # Undo what completed inside the region, newest first, then go on.
            self._begin_compensation(token, then=event["next"], cancel=False,
                                     only=self._inside(step_id))  # fmt: skip
            return
        self._advance(token, event["next"])

    def _beside(
        self, token: str, step_id: str, index: int, event: Mapping[str, Any],
        payload: dict[str, Any],
    ) -> None:  # fmt: skip
        """An event with `interrupting: false` came: the step goes on, and a
        path starts beside it at the event's `next` (in a group of its own:
        it joins nothing and ends only itself). A repeating timer (`every`)
        is set again. Its payload, with `event` and `branch`, lands under the
        step id."""
        tok = self.tokens[token]
        label = event_label(event)
        self.snap.variables[step_id] = {**payload, "event": label, "branch": index}
        self.effects.append(Audit(AuditKind.STEP_EVENT, step_id, {"by": label, "branch": index}))
        if "every" in event:
            due = self.now + parse_duration(event["every"])
            self.effects.append(StartTimer(token, step_id, TimerKind.ATTACHED, due, level=index))
        group = self._new_id()
        self.state["joins"][group] = {"join": None, "arrived": 0, "expected": 1,
                                      "frames": tok["frames"], "side": True}  # fmt: skip
        side = self._new_id()
        self.tokens[side] = {"step": None, "frames": [*tok["frames"], group], "wait": None}
        self._advance(side, event["next"])

    def _catch(
        self, token: str, step_id: str, code: str, message: str, extra: dict[str, Any]
    ) -> bool:
        """A step (or one of its for_each entries) ended with a business error
        `code` that one of its `error` events catches: that event interrupts
        the step. False when none does."""
        events = self.d.step(step_id).get("events") or []
        index = next((i for i, e in enumerate(events) if e.get("error") == code), None)
        if index is None:
            return False
        tok = self.tokens[token]
        if "of" in tok:  # an entry: the step as a whole is interrupted
            parent = self._drop_failed_entry(token)
            if parent is None:
                return True
            token = parent
        self._interrupt(token, step_id, index,
                        {"error": {"code": code, "message": message}, **extra})  # fmt: skip
        return True

    def _check_conditions(self) -> None:
        """Condition events and `first_of` condition branches fire when their
        expression becomes true: checked after every transition, again after
        each firing (which may change the variables), within the instant-step
        budget."""
        for _ in range(MAX_INSTANT_STEPS):
            if self.snap.status in TERMINAL or not self._fire_a_condition():
                return

    def _fire_a_condition(self) -> bool:
        variables = self.snap.variables
        for token, tok in list(self.tokens.items()):
            step_id = tok.get("step")
            if not step_id or token not in self.tokens:
                continue
            step = self.d.step(step_id)
            try:
                if "events" in tok and tok["wait"] in ATTACHABLE:
                    for index, event in enumerate(step.get("events") or []):
                        if "condition" in event and self._rose(tok, index, event["condition"]):
                            self._interrupt(token, step_id, index, {})
                            return True
                elif tok["wait"] == Wait.MESSAGE and "first_of" in step:
                    for index, branch in enumerate(step["first_of"]):
                        if "condition" in branch and truthy(branch["condition"], variables):
                            self._first_came(token, step_id, index, {})
                            return True
            except StepError as exc:
                self._fail(token, step_id, "EVALUATION", str(exc))
                return False
        return False

    def _rose(self, tok: dict[str, Any], index: int, condition: str) -> bool:
        """The condition holds now and did not at the last look (a condition that
        stays true fires once; one that turns false and true again, again)."""
        held: list[int] = tok.setdefault("held", [])
        if truthy(condition, self.snap.variables):
            if index in held:
                return False
            held.append(index)
            return True
        if index in held:
            held.remove(index)
        return False

    def _enter_first_of(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> None:
        """Wait for whichever of several events comes first (a deferred choice):
        the token waits for every message branch at once and each timer branch
        has a timer whose `level` is the branch's index."""
        tok["wait"] = Wait.MESSAGE
        tok["messages"] = self._await_events(token, step_id, step["first_of"], TimerKind.FIRST_OF)

    def _first_came(self, token: str, step_id: str, index: int, payload: dict[str, Any]) -> None:
        """A `first_of` wait's branch `index` came first: its payload (a
        message's) and which branch it was land under the step id, the other
        branches are withdrawn (their timers cancelled; the token no longer
        waits for their messages), and the flow takes the branch's `next`."""
        branch = self.d.step(step_id)["first_of"][index]
        first = event_label(branch)
        self.snap.variables[step_id] = {**payload, "first": first, "branch": index}
        self.effects.append(Audit(AuditKind.WAIT_FIRST, step_id, {"first": first, "branch": index}))
        self.effects.append(CancelToken(token, Wait.MESSAGE))
        self._advance(token, branch["next"])
