"""Handlers for engine tests: each records its calls, keyed by idempotency key."""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from orchestration.exceptions import BusinessError, RetryableError
from orchestration.handlers import StepContext, handler, resolver

CALLS: dict[str, list[tuple[str, int]]] = defaultdict(list)  # handler -> [(key, attempt)]
ORDER: list[str] = []  # every call's handler, in the order of the calls
SEEN: list[tuple[str, Any]] = []  # (handler, its `item` variable) of calls that had one
PLAN: dict[
    str, list[str]
] = {}  # handler -> outcomes to play: "ok", "retry", "error:<code>", "hang"
RELEASE = threading.Event()


def reset() -> None:
    CALLS.clear()
    ORDER.clear()
    SEEN.clear()
    PLAN.clear()
    RELEASE.clear()
    LEDGER["path"] = ""
    GATE["event"] = None
    DIRECTORY["down"] = True


def _play(name: str, variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    CALLS[name].append((context.idempotency_key, context.attempt))
    ORDER.append(name)
    if "item" in variables:
        SEEN.append((name.removeprefix("test."), variables["item"]))
    plan = PLAN.get(name)
    action = plan.pop(0) if plan else "ok"
    if action == "retry":
        raise RetryableError("try again")
    if action.startswith("error:"):
        raise BusinessError(action.split(":", 1)[1], "refused")
    if action == "hang":
        RELEASE.wait(10)
    if action == "crash":
        raise ZeroDivisionError("bug")
    if action == "nul":  # text PostgreSQL's jsonb refuses
        return {"doubled": "nul \x00 byte"}
    item = variables.get("item")
    n = item if isinstance(item, int | float) else variables.get("n", 0)
    return {"seen": context.attempt, "doubled": n * 2}


for _name in ("a", "b", "c", "undo_a", "undo_b", "slow"):
    handler(f"test.{_name}")(
        lambda variables, context, _n=f"test.{_name}": _play(_n, variables, context)
    )


@handler("test.count")
def _count(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    """One more than the variable `count`: a loop's counter."""
    ORDER.append("test.count")
    return {"count": int(variables.get("count") or 0) + 1}


LEDGER = {"path": ""}


def _ledger(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    """Appends one line per call to a file: what several processes did, in one place."""
    if LEDGER["path"]:
        with open(LEDGER["path"], "a") as f:  # O_APPEND: whole lines from many processes
            f.write(f"{context.idempotency_key} {context.attempt} {os.getpid()}\n")
    return {}


handler("test.ledger")(_ledger)


# A multiprocessing.Event set before worker processes fork: attempt 1 of a
# `test.gate` step waits for it (a live worker whose lease runs out meanwhile).
GATE: dict[str, Any] = {"event": None}


def _gate(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    if context.attempt == 1 and GATE["event"] is not None:
        GATE["event"].wait(60)
    _ledger(variables, context)
    return {"attempt": context.attempt}


handler("test.gate")(_gate)


DIRECTORY = {"down": True}  # reset() brings it down again


@resolver("test.broken")
def _broken_resolver(*, starter: Any, instance: Any) -> list[Any]:
    if DIRECTORY["down"]:
        raise RuntimeError("the directory service is down")
    return [starter] if starter else []
