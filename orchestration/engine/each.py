"""The core's rules for multiple instances of an automated step: `for_each`
on a service, http or subprocess step.

The token that enters the step stays parked there (`Wait.ENTRIES`) holding
the entries' ledger (`each`); every entry runs as a token of its own at the
same step, with an execution number of its own (so its runs, idempotency key
and compensation are its own) and its item bound to the `as` name
(`state["binds"]`, which the worker merges into the variables a handler or a
request template sees). Approvals keep their own chain (approvals.py): their
entries are tasks of one token, decided by people under a quorum.

A mixin of the core's state machine (engine/core.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestration.audit import AuditKind
from orchestration.engine.evaluation import StepError, evaluate, truthy
from orchestration.engine.events import Audit, AwaitMessage, RunStep, StartChild
from orchestration.engine.machine import MachineParts
from orchestration.engine.state import Wait, bind_key

# More entries than this in one step is a mistake in the data, not a plan.
MAX_ENTRIES = 1000


class EachRules(MachineParts):
    # ---- entering ------------------------------------------------------------------------
    def _enter_each(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> tuple[str, str] | None:
        """Start the step once per entry of `for_each.items`: all at once
        (parallel) or one after another (sequential). No entries: the step
        completes at once with empty results."""
        spec = step["for_each"]
        items = self._items(step)
        tok["wait"] = Wait.ENTRIES
        tok["each"] = {
            "items": list(items), "results": [None] * len(items), "running": {},
            "next": 0, "parallel": spec.get("mode", "sequential") == "parallel",
        }  # fmt: skip
        if "add_on" in spec:
            tok["adds"] = spec["add_on"]
            self.effects.append(AwaitMessage(token, step_id, (spec["add_on"],)))
        if not items and "add_on" not in spec:
            return self._each_complete(token, step_id)
        self._start_due_entries(token, tok, step_id, step)
        return None

    def _items(self, step: Mapping[str, Any]) -> list[Any]:
        items = evaluate(step["for_each"]["items"], self.snap.variables)
        if not isinstance(items, list):
            raise StepError(f"for_each.items must be a list, got {type(items).__name__}")
        if len(items) > MAX_ENTRIES:
            raise StepError(f"for_each.items has {len(items)} entries; at most {MAX_ENTRIES}")
        return items

    def _start_unawaited(self, step_id: str, step: Mapping[str, Any]) -> None:
        """`wait: false`: the sub-process starts (one per entry with
        `for_each`) and the flow goes on at once. The children run on their
        own: their ends are not reported back and cancelling this instance
        does not cancel them."""
        binds: list[dict[str, Any]] = [{}]
        if "for_each" in step:
            binds = [{step["for_each"]["as"]: item} for item in self._items(step)]
        for bind in binds:
            variables = {**self.snap.variables, **bind}
            child_vars = {name: evaluate(expr, variables)
                          for name, expr in (step.get("input") or {}).items()}  # fmt: skip
            self.effects.append(
                StartChild("", step_id, step["definition"], step.get("version"), child_vars)
            )

    def _start_due_entries(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> None:
        each = tok["each"]
        while each["next"] < len(each["items"]) and (each["parallel"] or not each["running"]):
            index = each["next"]
            each["next"] += 1
            self._start_entry(token, tok, step_id, step, index)

    def _start_entry(
        self, token: str, tok: dict[str, Any], step_id: str, step: Mapping[str, Any],
        index: int,
    ) -> None:  # fmt: skip
        entry = self._new_id()
        execution = self.state["runs"].get(step_id, 0) + 1
        self.state["runs"][step_id] = execution
        self.tokens[entry] = {"step": step_id, "frames": tok["frames"], "wait": None,
                              "execution": execution, "of": token, "entry": index,
                              "of_execution": tok["execution"]}  # fmt: skip
        tok["each"]["running"][entry] = index
        item = tok["each"]["items"][index]
        self.state.setdefault("binds", {})[bind_key(step_id, execution)] = {
            step["for_each"]["as"]: item
        }
        self._run_entry(entry, self.tokens[entry], step_id, step)

    def _run_entry(
        self, entry: str, etok: dict[str, Any], step_id: str, step: Mapping[str, Any]
    ) -> None:
        """Start (or, after an operator's retry, start again) one entry's work."""
        if step["type"] == "subprocess":
            etok["wait"] = Wait.CHILD
            variables = {**self.snap.variables, **self._bind(step_id, etok["execution"])}
            child_vars = {name: evaluate(expr, variables)
                          for name, expr in (step.get("input") or {}).items()}  # fmt: skip
            self.effects.append(
                StartChild(entry, step_id, step["definition"], step.get("version"), child_vars)
            )
        else:
            etok["wait"] = Wait.STEP
            self.effects.append(RunStep(entry, step_id, etok["execution"], 1, self.now))

    def _bind(self, step_id: str, execution: int) -> dict[str, Any]:
        binds: dict[str, dict[str, Any]] = self.state.get("binds") or {}
        return binds.get(bind_key(step_id, execution), {})

    def _unbind(self, step_id: str, execution: int) -> None:
        binds = self.state.get("binds")
        if binds is not None:
            binds.pop(bind_key(step_id, execution), None)
            if not binds:
                del self.state["binds"]

    # ---- entries finishing -----------------------------------------------------------------
    def _entry_done(self, entry: str, result: Any) -> None:
        """An entry finished with `result` (a service's outputs, an http
        step's body, a child's {result, status, variables}). The step
        completes once every entry has finished or `complete_when` holds."""
        etok = self.tokens.pop(entry)
        step_id = etok["step"]
        step = self.d.step(step_id)
        if "compensate" not in step:  # kept for the compensation otherwise
            self._unbind(step_id, etok["execution"])
        parent = self._parent_of(etok)
        if parent is None:
            # The step completed without it (`rest: finish`): ignored.
            self.effects.append(Audit(AuditKind.ENTRY_IGNORED, step_id, {"entry": etok["entry"]}))
            return
        each = self.tokens[parent]["each"]
        each["running"].pop(entry, None)
        each["results"][etok["entry"]] = result
        if self._each_done(each, step):
            self._advance_from(parent, step_id)
            return
        self._start_due_entries(parent, self.tokens[parent], step_id, step)

    def _parent_of(self, etok: Mapping[str, Any]) -> str | None:
        """The token holding an entry's step, if it still waits for its entries."""
        parent = self.tokens.get(etok["of"])
        if (parent is None or parent["step"] != etok["step"] or "each" not in parent
                or parent["execution"] != etok["of_execution"]):  # fmt: skip
            return None
        return str(etok["of"])

    def _each_done(self, each: Mapping[str, Any], step: Mapping[str, Any]) -> bool:
        finished = [r for r in each["results"] if r is not None]
        spec = step["for_each"]
        if "complete_when" in spec and finished:
            variables = {**self.snap.variables, "completed": len(finished),
                         "total": len(each["items"]), "results": finished}  # fmt: skip
            if truthy(spec["complete_when"], variables):
                return True
        if "add_on" in spec and "complete_when" in spec:
            return False  # entries may still be added: only the condition completes it
        return not each["running"] and each["next"] >= len(each["items"])

    def _advance_from(self, token: str, step_id: str) -> None:
        nxt = self._each_complete(token, step_id)
        if nxt is not None:
            self._advance(*nxt)

    def _each_complete(self, token: str, step_id: str) -> tuple[str, str]:
        """The step completes: entries still running are withdrawn (`rest:
        cancel`, the default) or left to finish and ignored (`rest: finish`);
        the results land in the variables; the flow takes `next`."""
        step = self.d.step(step_id)
        tok = self.tokens[token]
        rest = step["for_each"].get("rest", "cancel")
        self._record_entries(tok, step_id, step, "withdrawn" if rest == "cancel" else "running")
        each = tok.pop("each")
        tok.pop("adds", None)
        if rest == "cancel":
            for entry in list(each["running"]):
                self._withdraw_token(entry)
        return token, step["next"]

    def _withdraw_entries(self, tok: dict[str, Any], step_id: str, step: Mapping[str, Any]) -> None:
        """The step is left early (an attached event, a routed error): what
        finished is recorded, every running entry is withdrawn."""
        if "each" not in tok:
            return
        self._record_entries(tok, step_id, step, "withdrawn", keep=True)
        each = tok.pop("each")
        tok.pop("adds", None)
        for entry in list(each["running"]):
            self._withdraw_token(entry)

    def _record_entries(
        self, tok: Mapping[str, Any], step_id: str, step: Mapping[str, Any], unfinished: str,
        *, keep: bool = False,
    ) -> None:  # fmt: skip
        """Under the step id: every entry with its item, status and result;
        the counts. Each of a service's `outputs` (an http step's or a
        sub-process's `result`) becomes a list in entry order, None where an
        entry did not finish."""
        each = tok["each"]
        running = set(each["running"].values())
        entries = []
        for index, (item, result) in enumerate(zip(each["items"], each["results"], strict=True)):
            if result is not None:
                status = "completed"
            elif index == each.get("failed"):
                status = "failed"  # its business error routed the step
            else:
                status = unfinished if index in running else "not_started"
            entries.append({"item": item, "status": status, "result": result})
        summary = {"entries": entries, "total": len(entries),
                   "completed": sum(r is not None for r in each["results"])}  # fmt: skip
        self.effects.append(Audit(AuditKind.ENTRIES_COMPLETED, step_id,
                                  {k: summary[k] for k in ("total", "completed")}))  # fmt: skip
        if keep:
            self.snap.variables[step_id] = {**self.snap.variables.get(step_id, {}), **summary}
        else:
            self.snap.variables[step_id] = summary
        results = each["results"]
        if step["type"] == "service":
            for name in step.get("outputs") or []:
                self.snap.variables[name] = [r.get(name) if r else None for r in results]
        elif step.get("result"):
            self.snap.variables[step["result"]] = results

    # ---- entries added while the step runs -------------------------------------------------
    def _add_entry(self, token: str, tok: dict[str, Any], payload: Mapping[str, Any]) -> None:
        """A message named by `for_each.add_on` adds an entry: its payload's
        `item`, or the whole payload."""
        step_id = tok["step"]
        step = self.d.step(step_id)
        each = tok["each"]
        if len(each["items"]) >= MAX_ENTRIES:
            raise StepError(f"for_each has {MAX_ENTRIES} entries already")
        each["items"].append(payload["item"] if "item" in payload else dict(payload))
        each["results"].append(None)
        self.effects.append(
            Audit(AuditKind.ENTRY_ADDED, step_id, {"entry": len(each["items"]) - 1})
        )
        self.effects.append(AwaitMessage(token, step_id, (tok["adds"],)))
        self._start_due_entries(token, tok, step_id, step)

    def _entry_result(self, step: Mapping[str, Any], outputs: Mapping[str, Any]) -> Any:
        """What an automated entry's success leaves in its results."""
        if step["type"] == "http":
            return outputs.get("body")
        return dict(outputs)

    def _is_entry(self, tok: Mapping[str, Any]) -> bool:
        return "of" in tok

    def _entry_failed_to_route(self, entry: str, route: str) -> None:
        """An entry's business error with a route in `on_error`: the whole step
        takes the route (what finished is recorded, the other entries are
        withdrawn)."""
        etok = self.tokens[entry]
        step_id = etok["step"]
        parent = self._drop_failed_entry(entry)
        if parent is None:
            self.effects.append(Audit(AuditKind.ENTRY_IGNORED, step_id, {"entry": etok["entry"]}))
            return
        self._withdraw_entries(self.tokens[parent], step_id, self.d.step(step_id))
        self._advance(parent, route)

    def _drop_failed_entry(self, entry: str) -> str | None:
        """An entry ended with a business error its step reacts to as a whole:
        the entry's token goes, its parent records it as failed. The parent
        token, or None when the step completed without it."""
        etok = self.tokens.pop(entry)
        self._unbind(etok["step"], etok["execution"])
        parent = self._parent_of(etok)
        if parent is not None:
            each = self.tokens[parent]["each"]
            each["running"].pop(entry, None)
            each["failed"] = etok["entry"]
        return parent
