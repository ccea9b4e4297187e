"""WCP6 multi-choice and WCP7 structured synchronizing merge: a `parallel`
whose branches carry conditions starts every branch whose condition holds,
and its join waits for exactly the branches that started."""

from __future__ import annotations

import pytest

from orchestration.models import HumanTask
from tests.orchestration.patterns.conftest import calls, refused

pytestmark = pytest.mark.django_db

REVIEWS = """
key: reviews
name: Reviews
variables:
  amount: {type: number, required: true}
  new_vendor: {type: boolean, default: false}
start: split
steps:
  split:
    type: parallel
    branches:
      - {next: legal, when: "amount > 1000"}
      - {next: finance, when: "amount > 100"}
      - {next: security, when: new_vendor}
  legal: {type: service, handler: test.a, next: meet}
  finance: {type: service, handler: test.b, next: meet}
  security: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: meet}}
  meet: {type: join, next: after}
  after: {type: service, handler: test.c, next: done}
  done: {type: end, result: ok}
"""


def test_wcp6_multi_choice_starts_every_branch_whose_condition_holds(process) -> None:
    process.publish(REVIEWS)
    instance = process.start("reviews", {"amount": 5000, "new_vendor": True})
    # legal and finance ran; the security review is open and the join waits for it.
    assert sorted(calls()) == ["a", "b"] and instance.status == "waiting"
    process.decide(process.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, sorted(calls()[:2]), calls()[2:]) == ("completed", ["a", "b"], ["c"])


def test_wcp7_synchronizing_merge_waits_only_for_the_branches_that_started(process) -> None:
    process.publish(REVIEWS)
    # Only finance's condition holds: the join must not wait for legal or security.
    instance = process.start("reviews", {"amount": 500})
    assert (instance.status, calls()) == ("completed", ["b", "c"])
    assert not HumanTask.objects.filter(instance=instance).exists()


def test_wcp6_no_branch_holding_fails_the_split_with_its_name(process) -> None:
    process.publish(REVIEWS)
    instance = process.start("reviews", {"amount": 50})
    assert instance.status == "failed" and calls() == []
    assert instance.error["step"] == "split"
    assert instance.error["message"] == "no branch of split has a condition that holds"


def test_wcp6_plain_and_conditional_branches_mix(process) -> None:
    process.publish(
        REVIEWS.replace('{next: legal, when: "amount > 1000"}', "legal").replace(
            "key: reviews", "key: mixed"
        )
    )
    instance = process.start("mixed", {"amount": 50})
    assert (instance.status, calls()) == ("completed", ["a", "c"])


def test_branch_conditions_are_validated_at_their_path(process) -> None:
    bad = REVIEWS.replace('"amount > 100"', '"amount >"')
    assert any(m.startswith("steps.split.branches[1].when:") for m in refused(bad))
    twice = REVIEWS.replace("next: security", "next: finance")
    assert "steps.split.branches[2]: a branch already starts at 'finance'" in refused(twice)
    shape = REVIEWS.replace("{next: security, when: new_vendor}", "{when: new_vendor}")
    assert any(m.startswith("steps.split.branches[2]") for m in refused(shape))


def test_the_diagram_labels_each_conditional_branch() -> None:
    import yaml

    from orchestration.definitions.diagram import render_svg

    svg = render_svg(yaml.safe_load(REVIEWS))
    assert all(label in svg for label in ("amount &gt; 1000", "amount &gt; 100", "new_vendor"))
