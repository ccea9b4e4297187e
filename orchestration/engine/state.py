"""The token state of an instance: its typed vocabulary and the only readers of it.

An instance's `state` column holds JSON: tokens, each parked at one step and
waiting on something (`Wait`), run counters per step, completed steps awaiting
compensation, open joins, a compensation in progress, the sub-process depth.
Code outside the core reads it only through the functions here (the admin's
diagram, instance_status, migration) instead of picking it apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from orchestration.states import ENDED, InstanceStatus


class EngineError(Exception):
    """The event does not apply to this instance (wrong status, nobody waiting...)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class Wait(StrEnum):
    """What a token parked at a step waits for."""

    STEP = "step"  # an automated step attempt (service, http)
    TASK = "task"  # a person (approval)
    TIMER = "timer"  # a wait: timer / until
    MESSAGE = "message"  # a named message, maybe with a timeout
    CHILD = "child"  # a sub-process
    COMPENSATING = "compensating"  # compensations to finish (compensate step)
    ENTRIES = "entries"  # the entries of a for_each step (each a token of its own)
    REGION = "region"  # the steps inside a region (tokens of their own)
    FAILED = "failed"  # an error an operator must retry


def awaited(token: Mapping[str, Any]) -> list[str]:
    """The message names a token is waiting for: one for a message wait, every
    message branch of a `first_of` wait, and the messages attached to the step
    it is parked at (`events`)."""
    names = list(token.get("events") or [])
    if token.get("adds"):  # a for_each step that takes entries by message
        names.append(token["adds"])
    if token.get("wait") == Wait.MESSAGE:
        names += token.get("messages") or ([token["message"]] if token.get("message") else [])
    return names


class TimerKind(StrEnum):
    WAIT = "wait"
    MESSAGE_TIMEOUT = "message_timeout"
    CHILD_FINISHED = "child_finished"  # a child's result, delivered to its parent
    CANCEL = "cancel"  # a parent's cancellation, delivered to its child
    ESCALATION = "escalation"  # a level of an approval's `escalation`
    MESSAGE = "message"  # a buffered message, delivered to the wait that takes it
    FIRST_OF = "first_of"  # a timer branch of a `first_of` wait (payload: its index)
    ATTACHED = "attached"  # a timer event attached to a step (payload: its index)


# Statuses after which nothing more happens (a `failed` instance that still
# holds tokens is a stop an operator can retry: see is_final).
# Statuses the core itself ends a transition in (the runtime adds `incident`).
TERMINAL = frozenset(ENDED | {InstanceStatus.FAILED})


@dataclass
class Snapshot:
    status: str
    variables: dict[str, Any]
    state: dict[str, Any]
    result: str = ""
    error: dict[str, Any] | None = None
    # Canonical JSON of the values that were sealed when the instance was read
    # (engine/sealing.py): titles and messages show them masked.
    sealed: frozenset[str] = frozenset()


def new_state(*, depth: int = 0) -> dict[str, Any]:
    state: dict[str, Any] = {"tokens": {}, "seq": 0, "runs": {}, "done": [], "joins": {},
                             "comp": None}  # fmt: skip
    if depth:
        state["depth"] = depth
    return state


def bind_key(step: str, execution: int) -> str:
    return f"{step}:{execution}"


def step_variables(
    variables: Mapping[str, Any], state: Mapping[str, Any] | None, step: str, execution: int
) -> dict[str, Any]:
    """What one run of a step sees: the instance's variables and, for an
    entry of a `for_each` step, its item under the `as` name."""
    bind = ((state or {}).get("binds") or {}).get(bind_key(step, execution))
    return {**variables, **bind} if bind else dict(variables)


def is_final(snap: Snapshot) -> bool:
    """Nothing more can happen. A failed instance that still holds tokens or a
    compensation is an incident an operator can retry or cancel, not an ending."""
    if snap.status in ENDED:
        return True
    return (
        snap.status == InstanceStatus.FAILED
        and not snap.state["tokens"]
        and snap.state["comp"] is None
    )


def current_steps(state: Mapping[str, Any] | None) -> set[str]:
    """The steps where the instance's tokens are parked now."""
    tokens = (state or {}).get("tokens") or {}
    return {t["step"] for t in tokens.values() if t.get("step")}


def places(state: Mapping[str, Any] | None) -> set[str]:
    """Every step a migration must map: where tokens are, and the completed steps
    a compensation may still undo."""
    return current_steps(state) | {step for step, _ in (state or {}).get("done", [])}


def depth(state: Mapping[str, Any] | None) -> int:
    """How deep in a chain of sub-processes this instance runs (0: started directly)."""
    return int((state or {}).get("depth", 0))


def rename_steps(snap: Snapshot, mapping: Mapping[str, str]) -> None:
    """Move a snapshot to another version's step ids (in-flight migration): every
    place the state names a step follows `mapping` (unmapped ids stay)."""

    def rename(step: str) -> str:
        return mapping.get(step, step)

    state = snap.state
    for tok in state["tokens"].values():
        tok["step"] = rename(tok["step"])
    state["runs"] = {rename(step): n for step, n in state["runs"].items()}
    state["done"] = [[rename(step), execution] for step, execution in state["done"]]
    for record in state["joins"].values():
        record["join"] = rename(record["join"]) if record["join"] else None
    for record in (state.get("regions") or {}).values():
        record["step"] = rename(record["step"])
    if "binds" in state:
        state["binds"] = {
            bind_key(rename(key.rsplit(":", 1)[0]), int(key.rsplit(":", 1)[1])): bind
            for key, bind in state["binds"].items()
        }
    comp = state["comp"]
    if comp:
        comp["pending"] = [[rename(s), n] for s, n in comp["pending"]]
        comp["then"] = rename(comp["then"]) if comp["then"] else None
    if snap.error:
        snap.error["step"] = rename(snap.error["step"])
