"""The core's rules for parallel splits and joins: inclusive branches,
partial joins that withdraw the rest or let it finish, and branches that
end on their own (`terminate: false`).

A mixin of the core's state machine (engine/core.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.audit import AuditKind
from orchestration.engine.evaluation import StepError, truthy
from orchestration.engine.events import Audit, CancelToken
from orchestration.engine.machine import MachineParts
from orchestration.engine.state import Wait
from orchestration.states import InstanceStatus

COMPLETED = InstanceStatus.COMPLETED


class JoinRules(MachineParts):
    def _with_active_steps(self, token: str) -> dict[str, Any]:
        raise NotImplementedError

    def _split(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> tuple[str, str] | None:
        """Start every branch (a `{next, when}` branch only when its condition
        holds: an inclusive split); the join waits for the branches that started,
        or for its `wait_for` of them."""
        seen = self._with_active_steps(token)
        branches = [
            b if isinstance(b, str) else b["next"]
            for b in step["branches"]
            if isinstance(b, str) or "when" not in b or truthy(b["when"], seen)
        ]
        if not branches:
            raise StepError(f"no branch of {step_id} has a condition that holds")
        group = self._new_id()
        join = self.d.joins.get(step_id)
        record = {"join": join, "arrived": 0, "expected": len(branches), "frames": tok["frames"]}
        wait_for = self.d.step(join).get("wait_for") if join else None
        if wait_for is not None and wait_for < len(branches):
            record["needed"] = wait_for
        self.state["joins"][group] = record
        del self.tokens[token]
        children = []
        for branch in branches:
            child = self._new_id()
            self.tokens[child] = {"step": None, "frames": [*tok["frames"], group], "wait": None}
            children.append((child, branch))
        for child, branch in children[1:]:
            self._advance(child, branch)
        return children[0]

    def _join(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> tuple[str, str] | None:
        frames = tok["frames"]
        group = frames[-1] if frames else None
        record = self.state["joins"].get(group) if group else None
        if group is None or record is None or record["join"] != step_id:
            return token, step["next"]  # not inside that parallel: pass through
        record["arrived"] += 1
        del self.tokens[token]
        if record.get("passed"):
            # A partial join let the rest finish: this one is ignored.
            self.effects.append(Audit(AuditKind.JOIN_IGNORED, step_id, {"token": token}))
            if record["arrived"] >= record["expected"]:
                del self.state["joins"][group]
            return None
        return self._join_if_ready(group, record, tok.get("execution", 1))

    def _join_if_ready(
        self, group: str, record: dict[str, Any], execution: int
    ) -> tuple[str, str] | None:
        """The join goes on once the branches it waits for have arrived (all
        that started and did not end on their own, or `wait_for` of them)."""
        step_id = record["join"]
        step = self.d.step(step_id)
        needed = min(record.get("needed", record["expected"]), record["expected"])
        if record["arrived"] < needed or record["arrived"] == 0:
            return None
        if needed < record["expected"]:
            self._pass_partial_join(group, record, step_id, step.get("rest", "cancel"))
        else:
            del self.state["joins"][group]
        merged = self._new_id()
        self.tokens[merged] = {
            "step": step_id,
            "frames": record["frames"],
            "wait": None,
            "execution": execution,
        }
        return merged, step["next"]

    def _branch_ended(self, frames: list[str], end: str, result: str) -> tuple[str, str] | None:
        """A token reached an end with `terminate: false`: its branch is over.
        The parallel it belongs to waits for one branch fewer (and may join
        now, or be over itself when no branch is left); a region with nothing
        left inside ends; the instance completes when nothing is left at all.
        Returns where the flow goes on, if anywhere."""
        joins, regions = self.state["joins"], self.state.get("regions") or {}
        if frames and frames[-1] in joins:
            group = frames[-1]
            record = joins[group]
            if record.get("side"):  # a path beside a step ended: nothing waits for it
                del joins[group]
                if not self.tokens and self.state["comp"] is None:
                    self._finish(COMPLETED, result)
                return None
            record["expected"] -= 1
            if record.get("passed"):
                if record["arrived"] >= record["expected"]:
                    del joins[group]
                return None
            if record["expected"] == 0:  # every branch ended on its own
                del joins[group]
                return self._branch_ended(record["frames"], end, result)
            if record["join"] is None:
                return None
            return self._join_if_ready(group, record, 1)
        if frames and frames[-1] in regions:
            frame = frames[-1]
            if any(frame in tok["frames"] for tok in self.tokens.values()):
                return None  # something still runs inside
            region_id, outer = regions[frame]["step"], regions[frame]["token"]
            self._close_region(frame)
            self.snap.variables[region_id] = {"result": result, "end": end}
            self.effects.append(Audit(AuditKind.REGION_ENDED, region_id, {"end": end}))
            return outer, self.d.step(region_id)["next"]
        if not self.tokens and self.state["comp"] is None:
            self._finish(COMPLETED, result)
        return None

    def _pass_partial_join(
        self, group: str, record: dict[str, Any], step_id: str, rest: str
    ) -> None:
        """`wait_for` of the branches arrived: the others are withdrawn (their
        tasks closed as withdrawn, runs fenced, timers and children cancelled),
        or (`rest: finish`) left to finish and ignored when they arrive."""
        still = [t for t, tok in self.tokens.items() if group in tok["frames"]]
        self.effects.append(Audit(
            AuditKind.JOIN_PASSED, step_id,
            {"arrived": record["arrived"], "started": record["expected"], "rest": rest,
             "running": len(still)},
        ))  # fmt: skip
        if rest == "finish" and still:
            record["passed"] = True
            return
        del self.state["joins"][group]
        for other in still:
            self._withdraw_token(other)
        for key in [k for k, r in self.state["joins"].items() if group in r["frames"]]:
            del self.state["joins"][key]  # parallels nested inside a withdrawn branch

    def _withdraw_token(self, token: str) -> None:
        """A token's work is withdrawn from outside its step (a partial join
        passed without it): tasks close as withdrawn, the token is gone."""
        tok = self.tokens.pop(token, None)
        if tok is None:
            return  # already withdrawn with the region it was in
        if "of" in tok:
            self._unbind(tok["step"], tok["execution"])
        if "region" in tok:
            self._close_region(tok["region"])
        self._dequeue(token, tok)
        if tok["wait"] == Wait.COMPENSATING:
            return  # its compensations run to the end, then nothing follows them
        self.effects.append(CancelToken(token, "", tok.get("step") or "", withdrawn=True))
