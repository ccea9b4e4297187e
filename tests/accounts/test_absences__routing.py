"""Out-of-office routing as a rule (accounts.absences.resolve): no database."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from accounts.absences import Route, resolve

ANN, BOB, CY, DOT = 1, 2, 3, 4


def test_a_present_user_is_not_routed() -> None:
    assert resolve([ANN], {BOB: CY}) == []


def test_a_chain_of_delegates_is_followed_to_the_first_present_person() -> None:
    assert resolve([ANN], {ANN: BOB, BOB: CY}) == [Route(ANN, CY, "user 1 is away")]


def test_an_absent_user_without_a_delegate_routes_nowhere_and_says_who() -> None:
    assert resolve([ANN], {ANN: BOB, BOB: None}) == [
        Route(ANN, None, "user 2 is away and named no delegate")
    ]


def test_a_cycle_back_to_the_first_person_is_found() -> None:
    assert resolve([ANN], {ANN: BOB, BOB: ANN}) == [
        Route(ANN, None, "delegation cycle 1 -> 2 -> 1")
    ]


def test_a_cycle_that_closes_further_down_the_chain_is_found() -> None:
    # ann -> bob -> cy -> bob: the loop never comes back to ann.
    assert resolve([ANN, DOT], {ANN: BOB, BOB: CY, CY: BOB}) == [
        Route(ANN, None, "delegation cycle 1 -> 2 -> 3 -> 2")
    ]


def test_each_absent_user_is_routed_in_the_order_given() -> None:
    absent = {ANN: CY, BOB: DOT}
    assert [r.user for r in resolve([BOB, ANN], absent)] == [BOB, ANN]


PEOPLE = st.integers(min_value=1, max_value=7)
ABSENCES = st.dictionaries(PEOPLE, st.none() | PEOPLE, max_size=7)


def walk(user: int, absent: dict[int, int | None]) -> list[int | None]:
    """The delegate chain from `user`, as a person would follow it by hand."""
    seen: list[int | None] = [user]
    while seen[-1] in absent:
        nxt = absent[seen[-1]]  # type: ignore[index]
        if nxt in seen or nxt is None:
            return [*seen, nxt]
        seen.append(nxt)
    return seen


@given(ABSENCES, st.lists(PEOPLE, max_size=7))
def test_routing_never_lands_on_someone_away_and_reports_every_cycle(absent, users) -> None:
    routes = resolve(users, absent)
    assert [r.user for r in routes] == [u for u in users if u in absent]
    for found in routes:
        chain = walk(found.user, absent)
        if chain[-1] is None:
            assert found == Route(found.user, None,
                                  f"user {chain[-2]} is away and named no delegate")  # fmt: skip
        elif chain[-1] in chain[:-1]:
            cycle = " -> ".join(str(u) for u in chain)
            assert found == Route(found.user, None, f"delegation cycle {cycle}")
        else:
            assert found.to == chain[-1] and found.to not in absent
            assert found.why == f"user {found.user} is away"


def test_a_delegate_the_task_excludes_is_never_routed_to() -> None:
    assert resolve([ANN], {ANN: BOB}, {BOB: "started this instance"}) == [
        Route(ANN, None, "user 1 is away; delegate 2 started this instance and may not decide")
    ]
    # Passing through an excluded person who is away themselves is fine.
    assert resolve([ANN], {ANN: BOB, BOB: CY}, {BOB: "decided x"}) == [
        Route(ANN, CY, "user 1 is away")
    ]


@given(ABSENCES, st.lists(PEOPLE, max_size=7), st.sets(PEOPLE, max_size=3))
def test_routing_never_lands_on_an_excluded_person(absent, users, excluded) -> None:
    why = dict.fromkeys(excluded, "is excluded")
    plain = resolve(users, absent)
    for found, without in zip(resolve(users, absent, why), plain, strict=True):
        if without.to in excluded:
            assert found.to is None and "may not decide" in found.why
        else:
            assert found == without
