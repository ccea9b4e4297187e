"""Whether a token parked at a step of one version can stand at a step of
another (in-flight migration): beyond the step type, what the token's
state was built from must mean the same there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext

from orchestration.definitions.graph import all_steps, regions_of

_EVENT_KEYS = ("message", "timer", "until")


def _events(events: Any) -> list[tuple[str, Any]]:
    """What each event waits for, in order: a token's timers and message
    subscriptions refer to events by their index."""
    return [
        next(((k, e[k]) for k in _EVENT_KEYS if k in e), ("", None))
        for e in events or []
        if isinstance(e, Mapping)
    ]


def step_shape_problem(
    old_spec: Mapping[str, Any], new_spec: Mapping[str, Any], step: str,
    mapping: Mapping[str, str],
) -> str | None:  # fmt: skip
    """Why a token at `step` cannot move to its counterpart, or None. Tokens
    stay in their region (a token landing inside a region would have no
    region to end; one leaving it would leave the region waiting); a
    for_each step's entries need the same binding; attached events and
    first_of branches must wait for the same things in the same order."""
    new = mapping.get(step, step)
    old_step, new_step = all_steps(old_spec)[step], all_steps(new_spec)[new]
    old_region = regions_of(old_spec).get(step)
    expected = mapping.get(old_region, old_region) if old_region else None
    found = regions_of(new_spec).get(new)
    if found != expected:
        where = (gettext("inside region %(region)r") % {"region": found} if found
                 else gettext("outside any region"))  # fmt: skip
        return gettext("step %(step)r maps to %(new)r, %(where)s: a token stays in its region") % {
            "step": step, "new": new, "where": where}  # fmt: skip
    old_each, new_each = old_step.get("for_each") or {}, new_step.get("for_each") or {}
    if old_each.get("as") != new_each.get("as"):
        words = gettext("step %(step)r runs for_each entries as %(old)r; %(new)r as %(new_as)r")
        return words % {"step": step, "old": old_each.get("as"), "new": new,
                        "new_as": new_each.get("as")}  # fmt: skip
    for field in ("events", "first_of"):
        if _events(old_step.get(field)) != _events(new_step.get(field)):
            return gettext("the %(field)s of %(step)r differ from %(new)r's: a token waiting for"
                           " them would wait for the wrong ones") % {
                "field": field, "step": step, "new": new}  # fmt: skip
    return None
