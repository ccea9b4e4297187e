"""Quorum as a pure rule (orchestration.engine.quorum): examples a wrong rule
fails, and a model of the rule checked over generated electorates and votes."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration.engine import quorum

OUTCOMES = {"approve": "yes", "reject": "no", "refer": "up"}


def step(rule, outcomes=OUTCOMES):
    return {"outcomes": outcomes, "quorum": rule}


def test_the_default_is_any_and_the_first_vote_decides() -> None:
    assert quorum.decide({"outcomes": OUTCOMES}, ["reject"], None, "reject") == "reject"
    assert not quorum.needs_eligible({"outcomes": OUTCOMES})
    assert quorum.needs_eligible(step("all")) and quorum.needs_eligible(step(2))


def test_the_rule_reads_required_outcome_and_veto() -> None:
    assert quorum.rule(step({"required": 2, "outcome": "refer", "veto": ["reject"]})) == (
        2, "refer", frozenset({"reject"}),
    )  # fmt: skip
    assert quorum.rule(step("60%")) == ("60%", "approve", frozenset())
    assert quorum.rule(step("all", {"ok": "x", "no": "y"})) == ("all", None, frozenset())


@pytest.mark.parametrize(
    ("required", "eligible", "needed"),
    [("all", 5, 5), ("all", 0, 1), (3, 5, 3), ("50%", 5, 3), ("60%", 5, 3), ("61%", 5, 4),
     ("1%", 5, 1), ("100%", 7, 7), ("34%", 3, 2), ("33%", 3, 1), ("10%", 0, 1),
     ("1%", 101, 2), ("50%", 201, 101), ("100%", 101, 101)],
)  # fmt: skip
def test_needed_rounds_a_percentage_up_and_never_below_one(required, eligible, needed) -> None:
    assert quorum.needed(required, eligible) == needed


def test_a_count_decides_at_exactly_n() -> None:
    rule = step(2)
    assert quorum.decide(rule, ["approve"], 5, "approve") is None
    assert quorum.decide(rule, ["approve", "approve"], 5, "approve") == "approve"


def test_out_of_reach_picks_the_most_voted_other_outcome_reject_on_a_tie() -> None:
    rule = step("all")
    assert quorum.decide(rule, ["refer"], 3, "refer") == "refer"
    assert quorum.decide(rule, ["approve", "refer", "refer", "reject"], 4, "reject") == "refer"
    assert quorum.decide(rule, ["refer", "reject"], 4, "reject") == "reject"
    two = {"approve": "a", "zzz": "z", "aaa": "b"}
    assert quorum.decide(step("all", two), ["zzz", "aaa"], 2, "aaa") == "aaa"


def test_more_votes_than_eligible_people_count_the_votes() -> None:
    # Someone joined the group after the count: the votes are people too.
    assert quorum.decide(step("all"), ["approve", "approve", "approve"], 2, "approve") == "approve"
    assert quorum.decide(step("all"), ["approve", "approve", "reject"], 2, "reject") == "reject"


def test_a_single_outcome_out_of_reach_closes_with_that_outcome() -> None:
    # Three approvals needed of two people: nothing else to close with.
    assert quorum.decide(step(3, {"approve": "x"}), ["approve"], 2, "approve") == "approve"


def test_a_step_without_a_counted_outcome_falls_back_to_the_last_vote() -> None:
    assert quorum.decide(step(2, {"ok": "x", "no": "y"}), ["no"], 5, "no") == "no"


def test_tally_counts_in_outcome_order() -> None:
    assert list(quorum.tally(["reject", "approve", "reject"]).items()) == [
        ("approve", 1), ("reject", 2),
    ]  # fmt: skip


# ---- the rule as a model, over generated electorates and vote orders -----------------------
def model(required, veto, eligible, votes):
    """(index of the deciding vote, outcome), or None: written from the docs."""
    if required == "any":
        return (0, votes[0]) if votes else None
    for k in range(len(votes)):
        seen = votes[: k + 1]
        if seen[-1] in veto:
            return k, seen[-1]
        people = max(eligible, len(seen))
        if required == "all":
            need = max(people, 1)
        elif isinstance(required, int):
            need = required
        else:
            need = max(1, -(-int(required[:-1]) * people // 100))
        tally = Counter(seen)
        if tally["approve"] >= need:
            return k, "approve"
        if tally["approve"] + people - len(seen) < need:
            best = max(tally["reject"], tally["refer"])
            return k, "reject" if tally["reject"] == best else "refer"
    return None


RULES = (
    st.sampled_from(["any", "all"]) | st.integers(1, 6) | st.integers(1, 100).map(lambda p: f"{p}%")
)


@given(
    RULES,
    st.lists(st.sampled_from(["reject", "refer"]), max_size=1, unique=True),
    st.integers(0, 6),
    st.lists(st.sampled_from(sorted(OUTCOMES)), min_size=1, max_size=8),
)
def test_votes_decide_exactly_when_the_model_says(required, veto, eligible, votes) -> None:
    rule = step({"required": required, "veto": veto} if veto else required)
    expected = model(required, set(veto), eligible, votes)
    for k in range(len(votes)):
        decided = quorum.decide(rule, votes[: k + 1], eligible, votes[k])
        if expected is not None and k == expected[0]:
            assert decided == expected[1]
            return
        assert decided is None, (k, decided)
    assert expected is None
