"""Random graphs: validation never crashes, and agrees with a brute-force reachability check."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.definitions.validate import Context, validate

STEP_IDS = [f"s{i}" for i in range(6)]
CTX = Context(handlers={"h"})


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(min_value=1, max_value=6))
    ids = STEP_IDS[:n]
    targets = st.sampled_from([*ids, "missing"])
    steps: dict[str, Any] = {}
    for step_id in ids:
        kind = draw(st.sampled_from(["service", "decision", "end", "approval"]))
        if kind == "service":
            steps[step_id] = {"type": "service", "handler": "h", "next": draw(targets)}
        elif kind == "decision":
            steps[step_id] = {
                "type": "decision",
                "branches": [{"when": "x > 1", "next": draw(targets)}],
                "default": draw(targets),
            }
        elif kind == "approval":
            steps[step_id] = {
                "type": "approval",
                "assignees": {"groups": ["g"]},
                "outcomes": {"ok": draw(targets), "no": draw(targets)},
            }
        else:
            steps[step_id] = {"type": "end"}
    return {
        "key": "random",
        "name": "Random",
        "start": ids[0],
        "variables": {"x": {"type": "number"}},
        "steps": steps,
    }


def _successors(steps: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for step_id, step in steps.items():
        refs = {step.get("next"), step.get("default")}
        refs |= {b["next"] for b in step.get("branches", [])}
        refs |= set(step.get("outcomes", {}).values())
        out[step_id] = {r for r in refs if r}
    return out


def _closure(start: str, succ: dict[str, set[str]]) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in succ.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_random_graphs(spec: dict[str, Any]) -> None:
    errors = [str(e) for e in validate(spec, CTX)]
    assert all(": " in e for e in errors)
    succ = _successors(spec["steps"])
    dangling = any("missing" in targets for targets in succ.values())
    reachable = _closure(spec["start"], succ)
    for step_id in spec["steps"]:
        assert (f"steps.{step_id}: unreachable from start" in errors) == (step_id not in reachable)
        reaches_end = any(
            spec["steps"].get(s, {}).get("type") == "end" for s in _closure(step_id, succ)
        )
        stuck = f"steps.{step_id}: no path from here reaches an end step" in errors
        assert stuck == (not dangling and step_id in reachable and not reaches_end)
    assert ("unknown step 'missing'" in " ".join(errors)) == dangling
    if not errors:
        assert not dangling and reachable == set(spec["steps"])
