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


def edges(steps: Mapping[str, Mapping[str, Any]]) -> Iterator[Edge]:
    """Every step reference in the definition, in a stable order."""
    for step_id, step in steps.items():
        if not isinstance(step, Mapping):
            continue
        base = f"steps.{step_id}"
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
