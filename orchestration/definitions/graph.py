"""The edges of a definition's step graph, shared by validation, the engine and the diagram."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str  # shown on the diagram: outcome, branch condition, error code...
    path: str  # where the reference is written, for error messages


def edges(steps: Mapping[str, Mapping[str, Any]], prefix: str = "steps") -> Iterator[Edge]:
    """Every step reference among these steps (one level: a region's own
    steps are another level), in a stable order. `prefix` is where the
    steps are written (`steps`, or `steps.review.steps` inside a region)."""
    for step_id, step in steps.items():
        if not isinstance(step, Mapping):
            continue
        base = f"{prefix}.{step_id}"
        kind = step.get("type")
        if kind == "decision":
            for i, branch in enumerate(step.get("branches") or []):
                if isinstance(branch, Mapping) and "next" in branch:
                    yield Edge(
                        step_id,
                        branch["next"],
                        str(branch.get("when", "")),
                        f"{base}.branches[{i}].next",
                    )
            if "default" in step:
                yield Edge(step_id, step["default"], "default", f"{base}.default")
        elif kind == "approval":
            for outcome, target in (step.get("outcomes") or {}).items():
                yield Edge(step_id, target, str(outcome), f"{base}.outcomes.{outcome}")
        elif kind == "parallel":
            for i, branch in enumerate(step.get("branches") or []):
                if isinstance(branch, str):
                    yield Edge(step_id, branch, "", f"{base}.branches[{i}]")
                elif isinstance(branch, Mapping) and "next" in branch:
                    label = str(branch.get("when", ""))
                    yield Edge(step_id, branch["next"], label, f"{base}.branches[{i}].next")
        for field in ("first_of", "events"):
            for i, branch in enumerate(step.get(field) or []):
                if isinstance(branch, Mapping) and "next" in branch:
                    label = next((f"{k} {branch[k]}" for k in ("message", "timer", "until")
                                  if k in branch), "")  # fmt: skip
                    yield Edge(step_id, branch["next"], label, f"{base}.{field}[{i}].next")
        if "next" in step and kind not in {"decision", "approval", "parallel", "end"}:
            yield Edge(step_id, step["next"], "", f"{base}.next")
        for code, target in (step.get("on_error") or {}).items():
            yield Edge(step_id, target, f"error {code}", f"{base}.on_error.{code}")
        if "on_timeout" in step:
            yield Edge(step_id, step["on_timeout"], "timeout", f"{base}.on_timeout")


def branch_targets(step: Mapping[str, Any]) -> list[str]:
    """Where a parallel step's branches start: each is a step id, or
    `{next, when}` for a branch that starts only when its condition holds."""
    return [b if isinstance(b, str) else b["next"] for b in step["branches"]]


@dataclass(frozen=True)
class Level:
    """The steps of the definition's top level, or of one region: each level
    is a graph of its own, with its own start and ends."""

    prefix: str  # where its steps are written: steps, steps.review.steps
    start: Any
    steps: Mapping[str, Mapping[str, Any]]
    region: str | None  # the region step holding it (None: the top level)

    @property
    def start_path(self) -> str:
        return "start" if self.region is None else self.prefix.removesuffix(".steps") + ".start"


def levels(spec: Mapping[str, Any]) -> list[Level]:
    """The top level and every region (regions nest), outermost first."""
    found = [Level("steps", spec.get("start"), spec.get("steps") or {}, None)]
    for level in found:  # grows while it is walked: nested regions come after
        for step_id, step in level.steps.items():
            if isinstance(step, Mapping) and step.get("type") == "region":
                inner = step.get("steps")
                if isinstance(inner, Mapping):
                    found.append(
                        Level(f"{level.prefix}.{step_id}.steps", step.get("start"), inner, step_id)
                    )
    return found


def all_steps(spec: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every step of the definition by id, regions' steps too (ids are
    unique across levels; with duplicates, the outermost wins)."""
    flat: dict[str, Mapping[str, Any]] = {}
    for level in levels(spec):
        for step_id, step in level.steps.items():
            flat.setdefault(step_id, step)
    return flat


def regions_of(spec: Mapping[str, Any]) -> dict[str, str]:
    """For each step inside a region, the region that holds it directly."""
    return {
        step_id: level.region
        for level in levels(spec)
        if level.region is not None
        for step_id in level.steps
    }


def message_names(spec: Mapping[str, Any]) -> set[str]:
    """Every message some step of the definition can wait for: a message
    wait, a `first_of` branch, an attached event, a `for_each.add_on`."""
    names: set[str] = set()
    for step in all_steps(spec).values():
        if isinstance(step.get("message"), str):
            names.add(step["message"])
        for field in ("first_of", "events"):
            names.update(e["message"] for e in step.get(field) or []
                         if isinstance(e, Mapping) and "message" in e)  # fmt: skip
        add_on = (step.get("for_each") or {}).get("add_on")
        if add_on:
            names.add(add_on)
    return names


def successors(steps: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {step_id: [] for step_id in steps}
    for edge in edges(steps):
        if edge.target in steps and edge.target not in result[edge.source]:
            result[edge.source].append(edge.target)
    return result


def reachable(start: str, succ: Mapping[str, list[str]]) -> dict[str, int]:
    """Steps reachable from `start`, with their breadth-first depth."""
    depth = {start: 0}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for nxt in succ.get(current, []):
            if nxt not in depth:
                depth[nxt] = depth[current] + 1
                queue.append(nxt)
    return depth
