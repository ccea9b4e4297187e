"""The core's rules for regions: a group of steps with its own start and ends.

Entering a region parks the token at the region step (`Wait.REGION`, where
the region's events wait with it) and starts one token inside, whose frames
end with the region's frame (`state["regions"]`). Every token inside carries
that frame, so the region is withdrawn as a whole by it: an end inside
withdraws what else runs inside and the parked token goes on at the
region's `next`; an event attached to the region withdraws everything inside
(and may compensate what completed inside) before the flow takes its `next`.

A mixin of the core's state machine (engine/core.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.audit import AuditKind
from orchestration.engine.evaluation import StepError
from orchestration.engine.events import Audit
from orchestration.engine.machine import MachineParts
from orchestration.engine.state import Wait


class RegionRules(MachineParts):
    def _enter_region(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> tuple[str, str] | None:
        """Park the token at the region (its events wait with it) and go on
        with one token inside, from the region's start. An `exclusive` region
        whose name another running region holds is queued for its turn."""
        tok["wait"] = Wait.REGION
        name = step.get("exclusive")
        if name:
            lock = self.state.setdefault("locks", {}).setdefault(name, {"holder": None,
                                                                         "queue": []})  # fmt: skip
            if lock["holder"] is not None:
                lock["queue"].append(token)
                tok["queued"] = name
                self.effects.append(Audit(AuditKind.REGION_QUEUED, step_id, {"exclusive": name}))
                return None  # parked: the core attaches its events as for any step
        if "events" in step:
            self._attach(token, tok, step_id, step)
        return self._open_region(token, tok, step_id, step)

    def _open_region(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> tuple[str, str]:
        frame = self._new_id()
        tok["region"] = frame
        tok.pop("queued", None)
        self.state.setdefault("regions", {})[frame] = {"step": step_id, "token": token}
        if step.get("exclusive"):
            self.state["locks"][step["exclusive"]]["holder"] = frame
        inner = self._new_id()
        self.tokens[inner] = {"step": None, "frames": [*tok["frames"], frame], "wait": None}
        return inner, step["start"]

    def _end_region(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> tuple[str, str]:
        """An end inside a region ends the region (not the instance): what
        else runs inside is withdrawn, the end's `result` lands under the
        region's id and the parked token goes on at the region's `next`."""
        region_id = self.d.regions[step_id]
        regions = self.state.get("regions") or {}
        frame = next((f for f in reversed(tok["frames"])
                      if regions.get(f, {}).get("step") == region_id), None)  # fmt: skip
        if frame is None:
            raise StepError(f"{step_id} ends region {region_id}, which this token is not in")
        del self.tokens[token]
        outer = regions[frame]["token"]
        self._close_region(frame)
        self.snap.variables[region_id] = {"result": step.get("result", ""), "end": step_id}
        self.effects.append(Audit(AuditKind.REGION_ENDED, region_id, {"end": step_id}))
        return outer, self.d.step(region_id)["next"]

    def _close_region(self, frame: str) -> None:
        """Withdraw every token still inside the region (tasks closed as
        withdrawn, runs fenced, timers and children cancelled) and forget it."""
        regions = self.state.get("regions") or {}
        record = regions.pop(frame, None)
        if not regions:
            self.state.pop("regions", None)
        if record is not None and record["token"] in self.tokens:
            self.tokens[record["token"]].pop("region", None)
        for other in [t for t, tok in self.tokens.items() if frame in tok["frames"]]:
            self._withdraw_token(other)
        for key in [k for k, r in self.state["joins"].items() if frame in r["frames"]]:
            del self.state["joins"][key]
        if record is not None:
            self._release(self.d.step(record["step"]).get("exclusive"), frame)

    def _release(self, name: str | None, frame: str) -> None:
        """An exclusive region closed: the next flow queued for its name enters."""
        locks = self.state.get("locks") or {}
        lock = locks.get(name) if name else None
        if lock is None or lock["holder"] != frame:
            return
        lock["holder"] = None
        while lock["queue"]:
            token = lock["queue"].pop(0)
            tok = self.tokens.get(token)
            if tok is None or tok.get("queued") != name:
                continue
            step = self.d.step(tok["step"])
            inner, start = self._open_region(token, tok, tok["step"], step)
            self._advance(inner, start)
            return
        del locks[name]
        if not locks:
            self.state.pop("locks", None)

    def _dequeue(self, token: str, tok: Mapping[str, Any]) -> None:
        """A flow waiting for an exclusive region's turn goes elsewhere."""
        lock = (self.state.get("locks") or {}).get(tok.get("queued") or "")
        if lock is not None and token in lock["queue"]:
            lock["queue"].remove(token)

    def _inside(self, region_id: str) -> set[str]:
        """The steps of a region, those of regions nested in it too."""
        inside = {s for s, r in self.d.regions.items() if r == region_id}
        for step_id in list(inside):
            if self.d.step(step_id)["type"] == "region":
                inside |= self._inside(step_id)
        return inside
