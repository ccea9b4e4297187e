"""The core's side of an operator's move: the flow parked at one step goes
to another (a redo when it goes back), within its region and its parallel.

A mixin of the core's state machine (engine/core.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.audit import AuditKind
from orchestration.definitions.graph import branch_targets, successors
from orchestration.engine.events import Audit, CancelToken, Jumped
from orchestration.engine.machine import MachineParts
from orchestration.engine.state import EngineError
from orchestration.states import InstanceStatus

RUNNING, FAILED, COMPENSATING = (
    InstanceStatus.RUNNING, InstanceStatus.FAILED, InstanceStatus.COMPENSATING,
)  # fmt: skip


class InterventionRules(MachineParts):
    def _on_jump(self, event: Jumped) -> None:
        """An operator moves the token parked at `source` to `target` within
        its region and, inside a parallel, within its branches: what it
        waited for is withdrawn (tasks closed as withdrawn, runs fenced,
        timers, children, entries and a region's inside cancelled) and it
        enters `target` afresh (an approval opens a new task). A failed token
        may be moved too: the instance runs again."""
        found = [t for t, tok in self.tokens.items() if tok["step"] == event.source
                 and "of" not in tok]  # fmt: skip
        if not found:
            raise EngineError("not_there", f"the flow is not at {event.source!r}")
        if len(found) > 1:
            raise EngineError("ambiguous", f"{len(found)} branches are at {event.source!r}")
        if self.snap.status == COMPENSATING:
            raise EngineError("compensating", "the instance is compensating")
        token = found[0]
        tok = self.tokens[token]
        problem = self._jump_problem(tok, event.source, event.target)
        if problem:
            raise EngineError("not_movable", problem)
        step = self.d.step(event.source)
        self._withdraw_entries(tok, event.source, step)
        if "region" in tok:
            self._close_region(tok["region"])
        self._dequeue(token, tok)
        for key in ("events", "chain", "messages", "message", "adds", "queued"):
            tok.pop(key, None)
        self.effects.append(CancelToken(token, "", event.source, withdrawn=True))
        if self.snap.status == FAILED and (self.snap.error or {}).get("token") == token:
            self.snap.status, self.snap.error = RUNNING, None
        self.effects.append(Audit(AuditKind.INSTANCE_MOVED, event.source,
                                  {"from": event.source, "to": event.target,
                                   "reason": event.reason}))  # fmt: skip
        self._advance(token, event.target)

    def _jump_problem(self, tok: Mapping[str, Any], source: str, target: str) -> str | None:
        if self.d.regions.get(source) != self.d.regions.get(target):
            return f"{target!r} is not in the same region as {source!r}"
        joins = self.state["joins"]
        group = next((f for f in reversed(tok["frames"]) if f in joins), None)
        if group is None:
            return None
        join = joins[group]["join"]
        splits = [s for s, j in self.d.joins.items() if j == join]
        inside = self._between(splits, join) | {join}  # reaching the join ends the branch
        if target not in inside:
            return (f"{source!r} is a branch of a parallel: {target!r} is outside it"
                    f" (move within the branches before {join!r})")  # fmt: skip
        return None

    def _between(self, splits: list[str], join: str) -> set[str]:
        """The steps on the branches of these parallels, up to their join."""

        succ = successors(self.d.steps)
        seen: set[str] = set()
        todo = [b for s in splits for b in branch_targets(self.d.step(s))]
        while todo:
            step = todo.pop()
            if step == join or step in seen:
                continue
            seen.add(step)
            todo.extend(succ.get(step, []))
        return seen
