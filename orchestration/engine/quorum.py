"""When the votes on a task decide it: the step's `quorum`, as a pure function.

`any` (the default): the first vote decides, whatever its outcome.
`all`, a count `N`, or a percentage `"60%"` of the eligible: the counted outcome
(`quorum.outcome`, else `approve`) wins once that many distinct people chose
it; as soon as it can no longer get there (too many other votes for the people
left), the task closes with the other outcome most voted (`reject`, in the
usual two-outcome step). A `veto` outcome decides at once.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

ANY = "any"


def rule(step: Mapping[str, Any]) -> tuple[str | int, str | None, frozenset[str]]:
    """(required, counted outcome, veto outcomes) of an approval step."""
    quorum = step.get("quorum", ANY)
    if isinstance(quorum, Mapping):
        required = quorum["required"]
        counted = quorum.get("outcome")
        veto = frozenset(quorum.get("veto") or [])
    else:
        required, counted, veto = quorum, None, frozenset()
    if counted is None and "approve" in step["outcomes"]:
        counted = "approve"
    return required, counted, veto


def needs_eligible(step: Mapping[str, Any]) -> bool:
    """Whether deciding needs the number of people who may vote."""
    return rule(step)[0] != ANY


def needed(required: str | int, eligible: int) -> int:
    if required == "all":
        return max(eligible, 1)
    if isinstance(required, int):
        return required
    return max(1, math.ceil(int(str(required).rstrip("%")) * eligible / 100))


def decide(
    step: Mapping[str, Any], votes: Sequence[str], eligible: int | None, last: str
) -> str | None:
    """The outcome the votes decide (`votes`: every vote's outcome so far, one
    per person, `last` included), or None while the task stays open."""
    required, counted, veto = rule(step)
    if last in veto or required == ANY:
        return last
    if counted is None:  # validation requires one; a legacy version falls back to `any`
        return last
    people = max(eligible or 0, len(votes))
    tally = Counter(votes)
    need = needed(required, people)
    if tally[counted] >= need:
        return counted
    if tally[counted] + (people - len(votes)) < need:
        others = sorted(
            (o for o in step["outcomes"] if o != counted),
            key=lambda o: (-tally[o], o != "reject", o),
        )
        return others[0] if others else counted
    return None


def tally(votes: Sequence[str]) -> dict[str, int]:
    return dict(sorted(Counter(votes).items()))
