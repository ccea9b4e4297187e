"""Joins that go on before every branch has arrived: a `join` with
`wait_for: N` continues once N of the branches that started have arrived,
and the rest are withdrawn (`rest: cancel`, the default) or left to finish
and ignored (`rest: finish`).

WCP9 structured discriminator (1 of M, the rest ignored), WCP29 cancelling
discriminator (1 of M, the rest withdrawn), WCP30 structured partial join
(N of M, ignored), WCP32 cancelling partial join (N of M, withdrawn)."""

from __future__ import annotations

import pytest

from orchestration.models import HumanTask, StepRun
from tests.conftest import make_user
from tests.orchestration.engine import handlers as test_handlers
from tests.orchestration.patterns.conftest import calls, notes, refused

pytestmark = pytest.mark.django_db

SIGN_OFF = """
key: sign-off
name: Sign-off
start: split
steps:
  split: {type: parallel, branches: [legal, finance, security]}
  legal: {type: approval, assignees: {groups: [legal]}, outcomes: {ok: meet}}
  finance: {type: approval, assignees: {groups: [finance]}, outcomes: {ok: meet}}
  security: {type: approval, assignees: {groups: [security]}, outcomes: {ok: meet}}
  meet: {type: join, wait_for: WAIT_FOR, rest: REST, next: after}
  after: {type: service, handler: test.c, next: final}
  final: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: done}}
  done: {type: end, result: ok}
"""


def sign_off(wait_for: int, rest: str) -> str:
    return SIGN_OFF.replace("WAIT_FOR", str(wait_for)).replace("REST", rest)


@pytest.fixture
def reviewers(process):
    for name in ("legal", "finance", "security"):
        make_user(f"{name}_lead", name)
    return process


def task_of(instance, step: str) -> HumanTask:
    return HumanTask.objects.get(instance=instance, step=step)


def test_wcp32_cancelling_partial_join_two_of_three_withdraws_the_third(reviewers) -> None:
    reviewers.publish(sign_off(2, "cancel"))
    instance = reviewers.start("sign-off")
    reviewers.decide(task_of(instance, "legal"), "ok", as_="legal_lead")
    assert calls() == []  # one of two is not enough
    reviewers.decide(task_of(instance, "security"), "ok", as_="security_lead")
    assert calls() == ["c"]
    assert task_of(instance, "finance").status == "withdrawn"
    assert [t.step for t in reviewers.open_tasks(instance)] == ["final"]
    assert notes(instance, "join.passed") == [
        {"kind": "join.passed", "step": "meet", "arrived": 2, "started": 3, "rest": "cancel",
         "running": 1}
    ]  # fmt: skip
    reviewers.decide(task_of(instance, "final"), "ok", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, calls()) == ("completed", ["c"])


def test_wcp30_structured_partial_join_lets_the_rest_finish_and_ignores_them(reviewers) -> None:
    reviewers.publish(sign_off(2, "finish"))
    instance = reviewers.start("sign-off")
    reviewers.decide(task_of(instance, "finance"), "ok", as_="finance_lead")
    reviewers.decide(task_of(instance, "legal"), "ok", as_="legal_lead")
    assert calls() == ["c"]
    # security's review stays open beside the final approval, and its decision
    # reaches the join after it passed: nothing runs a second time.
    assert sorted(t.step for t in reviewers.open_tasks(instance)) == ["final", "security"]
    reviewers.decide(task_of(instance, "security"), "ok", as_="security_lead")
    assert calls() == ["c"] and len(notes(instance, "join.ignored")) == 1
    reviewers.decide(task_of(instance, "final"), "ok", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, instance.state["joins"]) == ("completed", {})


def test_wcp9_structured_discriminator_first_of_three_goes_on(reviewers) -> None:
    reviewers.publish(sign_off(1, "finish"))
    instance = reviewers.start("sign-off")
    reviewers.decide(task_of(instance, "security"), "ok", as_="security_lead")
    assert calls() == ["c"]
    assert sorted(t.step for t in reviewers.open_tasks(instance)) == [
        "final", "finance", "legal"
    ]  # fmt: skip
    reviewers.decide(task_of(instance, "legal"), "ok", as_="legal_lead")
    reviewers.decide(task_of(instance, "finance"), "ok", as_="finance_lead")
    instance.refresh_from_db()
    # Every branch arrived: the join's record is gone, only the final task waits.
    assert (calls(), instance.state["joins"]) == (["c"], {})
    assert [t.step for t in reviewers.open_tasks(instance)] == ["final"]


def test_wcp29_cancelling_discriminator_withdraws_tasks_runs_and_waits(process) -> None:
    process.publish("""
key: race
name: Race
start: split
steps:
  split: {type: parallel, branches: [person, machine, letter]}
  person: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: meet}}
  machine: {type: service, handler: test.a, retry: {max_attempts: 5, backoff: 1h}, next: meet}
  letter: {type: wait, message: signed, next: meet}
  meet: {type: join, wait_for: 1, next: after}
  after: {type: service, handler: test.c, next: done}
  done: {type: end, result: ok}
""")
    test_handlers.PLAN["test.a"] = ["retry"] * 5
    instance = process.start("race")
    assert calls() == ["a"]  # its retry waits an hour
    process.decide(process.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert (instance.status, calls()) == ("completed", ["a", "c"])
    # The machine's queued retry was withdrawn, the letter no longer awaited.
    runs = StepRun.objects.filter(instance=instance, step="machine").order_by("attempt")
    assert [r.status for r in runs] == ["failed", "cancelled"]
    process.advance(hours=2)
    assert calls() == ["a", "c"]


def test_a_withdrawn_branch_takes_its_nested_parallel_with_it(reviewers) -> None:
    reviewers.publish("""
key: nested
name: Nested
start: split
steps:
  split: {type: parallel, branches: [legal, inner]}
  legal: {type: approval, assignees: {groups: [legal]}, outcomes: {ok: meet}}
  inner: {type: parallel, branches: [finance, security]}
  finance: {type: approval, assignees: {groups: [finance]}, outcomes: {ok: inner_meet}}
  security: {type: approval, assignees: {groups: [security]}, outcomes: {ok: inner_meet}}
  inner_meet: {type: join, next: meet}
  meet: {type: join, wait_for: 1, next: done}
  done: {type: end, result: ok}
""")
    instance = reviewers.start("nested")
    reviewers.decide(task_of(instance, "finance"), "ok", as_="finance_lead")
    reviewers.decide(task_of(instance, "legal"), "ok", as_="legal_lead")
    instance.refresh_from_db()
    assert instance.status == "completed" and instance.state["joins"] == {}
    assert task_of(instance, "security").status == "withdrawn"


def test_a_partial_join_after_an_inclusive_split_waits_for_at_most_what_started(process) -> None:
    process.publish("""
key: few
name: Few
variables:
  amount: {type: number, required: true}
start: split
steps:
  split:
    type: parallel
    branches:
      - {next: a, when: "amount > 1000"}
      - {next: b, when: "amount > 100"}
      - {next: c, when: "amount > 10"}
  a: {type: service, handler: test.a, next: meet}
  b: {type: service, handler: test.b, next: meet}
  c: {type: service, handler: test.c, next: meet}
  meet: {type: join, wait_for: 2, next: done}
  done: {type: end, result: ok}
""")
    # One branch started: waiting for two would wait for ever.
    assert process.start("few", {"amount": 50}).status == "completed"


def test_partial_joins_are_validated(process) -> None:
    too_many = refused(sign_off(4, "cancel"))
    assert "steps.meet.wait_for: waits for 4 branches; 'split' has 3" in too_many
    no_count = SIGN_OFF.replace("wait_for: WAIT_FOR, ", "").replace("REST", "finish")
    assert "steps.meet.rest: applies to a partial join: give wait_for too" in refused(no_count)
    assert any(m.startswith("steps.meet.rest") for m in refused(sign_off(2, "later")))
    assert any(m.startswith("steps.meet.wait_for") for m in refused(sign_off(0, "cancel")))


def test_the_diagram_says_how_many_a_partial_join_waits_for() -> None:
    import yaml

    from orchestration.definitions.diagram import render_svg

    assert "join · first 2" in render_svg(yaml.safe_load(sign_off(2, "cancel")))
