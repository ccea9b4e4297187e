"""The core's rules for approval steps: votes and quorum, escalation levels.

A mixin of the core's state machine (engine/core.py), kept apart so that the
rules people are subject to read in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.audit import AuditKind
from orchestration.engine import quorum
from orchestration.engine.calendars import calendar_of
from orchestration.engine.evaluation import StepError, evaluate, open_task, render, truthy
from orchestration.engine.events import (
    Audit,
    AwaitMessage,
    CancelToken,
    ChangeAssignees,
    CloseTask,
    Notify,
    TaskVoted,
    TimerFired,
)
from orchestration.engine.machine import MachineParts
from orchestration.engine.state import EngineError, Wait


class ApprovalRules(MachineParts):
    # ---- for_each chains ------------------------------------------------------------------
    def _enter_chain(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any],
        execution: int,
    ) -> tuple[str, str] | None:  # fmt: skip
        """One approval per entry of `for_each.items`: one after another
        (sequential: the next once the previous is approved) or all at once
        (parallel: the step's quorum over the entries). No entries: skipped, as
        approved."""
        spec = step["for_each"]
        items = evaluate(spec["items"], self.snap.variables)
        if not isinstance(items, list):
            raise StepError(f"for_each.items must be a list, got {type(items).__name__}")
        counted = quorum.rule(step)[1]
        if counted is None:
            raise StepError("for_each needs an 'approve' outcome or a quorum.outcome")
        if not items:
            self.snap.variables[step_id] = {"outcome": counted, "entries": []}
            return token, step["outcomes"][counted]
        parallel = spec.get("mode", "sequential") == "parallel"
        tok["chain"] = {"items": list(items), "results": [], "parallel": parallel}
        if "add_on" in spec:
            tok["adds"] = spec["add_on"]
            self.effects.append(AwaitMessage(token, step_id, (spec["add_on"],)))
        for index in range(len(items) if parallel else 1):
            self._open_entry(token, step_id, step, execution, items, index)
        return None

    def _open_entry(
        self, token: str, step_id: str, step: Mapping[str, Any], execution: int,
        items: list[Any], index: int,
    ) -> None:  # fmt: skip
        variables = {**self.snap.variables, step["for_each"]["as"]: items[index]}
        calendar = calendar_of(self.d.spec)
        self.effects.append(
            open_task(
                token,
                step_id,
                step,
                execution,
                variables,
                self.now,
                calendar,
                index,
                shown=self.shown(variables),
            )
        )

    def _on_chain_vote(self, event: TaskVoted, tok: dict[str, Any]) -> None:
        step = self.d.step(event.step)
        chain = tok["chain"]
        items, results = chain["items"], chain["results"]
        counted = quorum.rule(step)[1]
        entry = event.entry if event.entry is not None else len(results)
        results.append({"entry": items[entry], "outcome": event.outcome, "by": event.voter})
        # The first decision on an entry's task decides that entry.
        self.effects.append(
            CloseTask(event.token, event.step, event.task, event.outcome, event.data,
                      event.voter_id)
        )  # fmt: skip
        outcomes = [r["outcome"] for r in results]
        decided = self._chain_complete(step, chain)
        if decided is None and chain["parallel"]:
            decided = quorum.decide(step, outcomes, len(items), event.outcome)
        elif decided is None and (event.outcome != counted or len(results) == len(items)):
            decided = event.outcome  # a reject ends the chain; the last approval ends it too
        elif decided is None:
            self._open_entry(event.token, event.step, step, tok["execution"], items,
                             len(results))  # fmt: skip
        if decided is None:
            self.effects.append(
                Audit(AuditKind.TASK_VOTE_RECORDED, event.step,
                      {"outcome": event.outcome, "by": event.voter, "entry": entry})
            )  # fmt: skip
            return
        self.snap.variables[event.step] = {
            "outcome": decided, "decided_by": event.voter, "entries": results,
        }  # fmt: skip
        tok.pop("chain", None)
        tok.pop("adds", None)
        self.effects.append(CancelToken(event.token, Wait.TASK, event.step))
        self._advance(event.token, step["outcomes"][decided])

    def _chain_complete(self, step: Mapping[str, Any], chain: Mapping[str, Any]) -> str | None:
        """`for_each.complete_when` (beside the quorum): once it holds over the
        entries decided so far, the step takes `for_each.outcome`."""
        spec = step["for_each"]
        if "complete_when" not in spec:
            return None
        results = chain["results"]
        counts = dict.fromkeys(step["outcomes"], 0)
        for result in results:
            counts[result["outcome"]] = counts.get(result["outcome"], 0) + 1
        seen = {**self.snap.variables, "completed": len(results), "total": len(chain["items"]),
                "results": results, "counts": counts}  # fmt: skip
        return str(spec["outcome"]) if truthy(spec["complete_when"], seen) else None

    def _add_chain_entry(self, token: str, tok: dict[str, Any], payload: Mapping[str, Any]) -> None:
        """A message named by an approval's `for_each.add_on` adds an entry: in
        a parallel chain its task opens at once; in a sequential one it opens
        in its turn."""
        step_id = tok["step"]
        step = self.d.step(step_id)
        chain = tok["chain"]
        chain["items"].append(payload["item"] if "item" in payload else dict(payload))
        index = len(chain["items"]) - 1
        self.effects.append(Audit(AuditKind.ENTRY_ADDED, step_id, {"entry": index}))
        self.effects.append(AwaitMessage(token, step_id, (tok["adds"],)))
        if chain["parallel"]:
            self._open_entry(token, step_id, step, tok["execution"], chain["items"], index)

    def _decide_chain(self, token: str, step_id: str, outcome: str) -> None:
        """The process decides a `for_each` step whatever its entries (an
        escalation's `decide`): every open entry's task closes with the outcome
        (task 0: all of the token's), entries not yet opened never open, and
        `entries` keeps what people decided before."""
        step = self.d.step(step_id)
        chain = self.tokens[token].pop("chain")
        self.tokens[token].pop("adds", None)
        self.snap.variables[step_id] = {
            "outcome": outcome, "decided_by": "system", "entries": chain["results"],
        }  # fmt: skip
        self.effects.append(CloseTask(token, step_id, 0, outcome, {}, None))
        self.effects.append(CancelToken(token, Wait.TASK, step_id))
        self._advance(token, step["outcomes"][outcome])

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
        tok = self.tokens[event.token]
        if "chain" in tok:
            self._on_chain_vote(event, tok)
            return
        votes = event.votes or [event.outcome]
        decided = (
            event.outcome if event.forced else quorum.decide(step, votes, event.eligible,
                                                             event.outcome)
        )  # fmt: skip
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
        message = render(level.get("message", ""), self.shown())
        self.effects.append(
            Audit(AuditKind.TASK_ESCALATED, event.step, {"level": event.level, "action": action})
        )
        if action in {"reassign", "add"}:
            self.effects.append(
                ChangeAssignees(event.token, event.step, users, groups, action == "reassign")
            )
            self.effects.append(
                Notify(event.token, event.step, "escalation", users, groups, message)
            )
        elif action in {"remind", "notify"}:
            named = action == "notify"
            self.effects.append(
                Notify(event.token, event.step, action, users if named else [],
                       groups if named else [], message)
            )  # fmt: skip
        elif action == "decide" and "chain" in self.tokens[event.token]:
            self._decide_chain(event.token, event.step, level["outcome"])
        elif action == "decide":
            # The process's own decision: it closes the task whatever the
            # quorum (counted as one vote of `required: 2`, it used to lose).
            self._on_vote(
                TaskVoted(event.token, event.step, level["outcome"], {}, "system",
                          votes=[level["outcome"]], forced=True)
            )  # fmt: skip
