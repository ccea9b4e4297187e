"""The core's rules for approval steps: votes and quorum, escalation levels.

A mixin of the core's state machine (engine/core.py), kept apart so that the
rules people are subject to read in one place.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestration.audit import AuditKind
from orchestration.engine import quorum
from orchestration.engine.events import (
    Audit,
    CancelToken,
    ChangeAssignees,
    CloseTask,
    Effect,
    Notify,
    TaskVoted,
    TimerFired,
)
from orchestration.engine.state import EngineError, Snapshot, Wait

if TYPE_CHECKING:
    from orchestration.engine.core import Definition


class ApprovalRules:
    d: Definition
    snap: Snapshot
    effects: list[Effect]
    now: datetime

    def _token_at(self, token: str, step: str, wait: str) -> dict[str, Any]:
        raise NotImplementedError

    def _advance(self, token: str, step_id: str) -> None:
        raise NotImplementedError

    def _on_vote(self, event: TaskVoted) -> None:
        """A vote closes the task when the step's quorum is reached. The single
        rule so far is `any`: the first vote decides (quorum and chains come with
        the human-tasks work, here)."""
        self._token_at(event.token, event.step, Wait.TASK)
        step = self.d.step(event.step)
        outcomes = step["outcomes"]
        if event.outcome not in outcomes:
            raise EngineError(
                "unknown_outcome", f"step {event.step} has no outcome {event.outcome!r}"
            )
        votes = event.votes or [event.outcome]
        decided = quorum.decide(step, votes, event.eligible, event.outcome)
        if decided is None:
            self.effects.append(
                Audit(AuditKind.TASK_VOTE_RECORDED, event.step,
                      {"outcome": event.outcome, "by": event.voter, "votes": quorum.tally(votes)})
            )  # fmt: skip
            return
        self.snap.variables[event.step] = {
            **event.data,
            "outcome": decided,
            "decided_by": event.voter,
            **({"votes": quorum.tally(votes)} if len(votes) > 1 else {}),
        }
        self.effects.append(
            CloseTask(event.token, event.step, event.task, decided, event.data, event.voter_id)
        )
        self.effects.append(CancelToken(event.token, Wait.TASK, event.step))
        self._advance(event.token, outcomes[decided])

    def _escalate(self, event: TimerFired) -> None:
        """One level of an open task's `escalation`, at its time, once."""
        self._token_at(event.token, event.step, Wait.TASK)
        step = self.d.step(event.step)
        level = step["escalation"][event.level]
        action, to = level["action"], level.get("to") or {}
        users, groups = list(to.get("users") or []), list(to.get("groups") or [])
        self.effects.append(
            Audit(AuditKind.TASK_ESCALATED, event.step, {"level": event.level, "action": action})
        )
        if action in {"reassign", "add"}:
            self.effects.append(
                ChangeAssignees(event.token, event.step, users, groups, action == "reassign")
            )
            self.effects.append(Notify(event.token, event.step, "escalation", users, groups))
        elif action in {"remind", "notify"}:
            named = action == "notify"
            self.effects.append(
                Notify(event.token, event.step, action, users if named else [],
                       groups if named else [], level.get("message", ""))
            )  # fmt: skip
        elif action == "decide":
            self._on_vote(
                TaskVoted(event.token, event.step, level["outcome"], {}, "system",
                          votes=[level["outcome"]])
            )  # fmt: skip
