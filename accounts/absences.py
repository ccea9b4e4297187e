"""Out of office: who decides for someone who is away.

Routing follows delegates through their own absences: ann away -> bob, bob
away -> cy gives cy. A cycle (ann -> bob -> ann), or an absent user without a
delegate, or a delegate the task excludes (four-eyes), routes nowhere: the
task stays with its group (if any) and its escalation path, and the reason is
recorded. `resolve()` is the rule, pure;
who is away comes from accounts.selectors.absent_at().
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    user: int  # the absent user
    to: int | None  # who decides instead (None: nobody could be found)
    why: str  # for the audit log, by user id


def resolve(
    user_ids: Iterable[int],
    absent: Mapping[int, int | None],
    excluded: Mapping[int, str] | None = None,
) -> list[Route]:
    """Where each absent user among `user_ids` routes to (present users:
    nothing), given who is away -> their delegate. A cycle is found wherever
    it closes (ann -> bob -> cy -> bob as much as ann -> bob -> ann). A
    delegate the task excludes (user id -> why, e.g. "started this instance")
    is never routed to: the task stays where it was, and the route says why."""
    routes = []
    for user in user_ids:
        if user not in absent:
            continue
        chain, current = [user], absent[user]
        while current is not None and current in absent and current not in chain:
            chain.append(current)
            current = absent[current]
        if current is None:
            routes.append(Route(user, None, f"user {chain[-1]} is away and named no delegate"))
        elif current in chain:
            cycle = " -> ".join(str(u) for u in [*chain, current])
            routes.append(Route(user, None, f"delegation cycle {cycle}"))
        elif excluded and current in excluded:
            why = f"user {user} is away; delegate {current} {excluded[current]} and may not decide"
            routes.append(Route(user, None, why))
        else:
            routes.append(Route(user, current, f"user {user} is away"))
    return routes
