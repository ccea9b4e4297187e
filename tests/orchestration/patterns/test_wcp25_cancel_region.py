"""WCP25 cancel region: a `region` groups steps with their own start and
ends; events attached to it withdraw everything inside at once (every open
task, queued run and timer), optionally compensating what completed inside."""

from __future__ import annotations

import pytest

from orchestration.models import HumanTask, ProcessEvent
from tests.conftest import make_user
from tests.orchestration.engine import handlers as test_handlers
from tests.orchestration.patterns.conftest import calls, refused

pytestmark = pytest.mark.django_db

PURCHASE = """
key: purchase
name: Purchase
start: prepare
steps:
  prepare: {type: service, handler: test.c, compensate: test.undo_b, next: reviews}
  reviews:
    type: region
    start: reserve
    steps:
      reserve: {type: service, handler: test.a, compensate: test.undo_a, next: split}
      split: {type: parallel, branches: [legal, finance, security]}
      legal: {type: approval, assignees: {groups: [legal]}, outcomes: {ok: meet}}
      finance: {type: approval, assignees: {groups: [finance]}, outcomes: {ok: meet}}
      security: {type: approval, assignees: {groups: [security]}, outcomes: {ok: meet}}
      meet: {type: join, wait_for: 2, next: reviewed}
      reviewed: {type: end, result: approved}
    events:
      - {message: withdrawn, next: told, compensate: true}
      - {timer: 10d, next: expired}
    next: order
  order: {type: service, handler: test.b, next: done}
  told: {type: end, result: withdrawn}
  expired: {type: end, result: expired}
  done: {type: end, result: ordered}
"""


@pytest.fixture
def purchase(process):
    for name in ("legal", "finance", "security"):
        make_user(f"{name}_lead", name)
    process.publish(PURCHASE)
    return process


def task_of(instance, step: str) -> HumanTask:
    return HumanTask.objects.get(instance=instance, step=step)


def test_an_end_inside_a_region_goes_on_at_the_region_next(purchase) -> None:
    instance = purchase.start("purchase")
    purchase.decide(task_of(instance, "finance"), "ok", as_="finance_lead")
    purchase.decide(task_of(instance, "legal"), "ok", as_="legal_lead")
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "ordered")
    assert calls() == ["c", "a", "b"]
    assert instance.variables["reviews"] == {"result": "approved", "end": "reviewed"}
    assert task_of(instance, "security").status == "withdrawn"  # the partial join's rest


def test_wcp25_a_message_cancels_the_region_and_compensates_what_it_did(purchase) -> None:
    instance = purchase.start("purchase")
    purchase.decide(task_of(instance, "legal"), "ok", as_="legal_lead")
    instance = purchase.message(instance, "withdrawn", {"by": "requester"})
    assert (instance.status, instance.result) == ("completed", "withdrawn")
    statuses = {t.step: t.status for t in HumanTask.objects.filter(instance=instance)}
    assert statuses == {"legal": "completed", "finance": "withdrawn", "security": "withdrawn"}
    # Inside the region: reserve is undone. Before it: prepare is not.
    assert calls() == ["c", "a", "undo_a"]
    assert instance.variables["reviews"]["interrupted_by"] == "withdrawn"
    assert instance.state["tokens"] == {} and "regions" not in instance.state


def test_wcp25_a_timer_cancels_the_region_without_compensating(purchase) -> None:
    instance = purchase.start("purchase")
    purchase.advance(days=10)
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "expired")
    assert calls() == ["c", "a"]
    assert not HumanTask.objects.filter(instance=instance, status="open").exists()


def test_leaving_a_region_cancels_its_timer(purchase) -> None:
    instance = purchase.start("purchase")
    purchase.decide(task_of(instance, "security"), "ok", as_="security_lead")
    purchase.decide(task_of(instance, "legal"), "ok", as_="legal_lead")
    purchase.advance(days=11)
    instance.refresh_from_db()
    assert instance.result == "ordered"
    fired = [e for e in ProcessEvent.objects.filter(instance=instance) if e.kind == "timer.fired"]
    assert fired == []


def test_a_region_inside_a_withdrawn_branch_goes_with_it(process) -> None:
    process.publish("""
key: nested
name: Nested
start: split
steps:
  split: {type: parallel, branches: [fast, slow]}
  fast: {type: service, handler: test.a, next: meet}
  slow:
    type: region
    start: inner
    steps:
      inner: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: inner_end}}
      inner_end: {type: end}
    next: meet
  meet: {type: join, wait_for: 1, next: done}
  done: {type: end, result: ok}
""")
    instance = process.start("nested")
    assert (instance.status, instance.state["tokens"]) == ("completed", {})
    assert HumanTask.objects.get(instance=instance).status == "withdrawn"


def test_a_region_failing_inside_is_retried_inside(process) -> None:
    process.publish("""
key: retry
name: Retry
start: box
steps:
  box:
    type: region
    start: work
    steps:
      work: {type: service, handler: test.a, next: fin}
      fin: {type: end}
    next: done
  done: {type: end, result: ok}
""")
    test_handlers.PLAN["test.a"] = ["error:BROKEN"]
    instance = process.start("retry")
    assert instance.status == "failed" and instance.error["step"] == "work"
    from orchestration import services

    services.instance_retry(instance_id=instance.pk, actor=None)
    process.run()
    instance.refresh_from_db()
    assert (instance.status, calls()) == ("completed", ["a", "a"])


def test_regions_are_validated(process) -> None:
    leaves = PURCHASE.replace(
        "outcomes: {ok: meet}}\n      finance", "outcomes: {ok: order}}\n      finance"
    )
    assert (
        "steps.reviews.steps.legal.outcomes.ok: step 'order' is outside region 'reviews': "
        "a region's steps reach only each other, and leave it through an end"
    ) in refused(leaves)
    enters = PURCHASE.replace("next: reviews}", "next: split}")
    assert (
        "steps.prepare.next: step 'split' is inside a region (steps.reviews.steps.split): "
        "a region is entered at its start"
    ) in refused(enters)
    twice = PURCHASE.replace(
        "  order: {type: service", "  meet: {type: join, next: order}\n  order: {type: service"
    )
    used = "steps.reviews.steps.meet: step id 'meet' is already used at steps.meet"
    assert used in refused(twice)
    failing = PURCHASE.replace("{type: end, result: approved}", "{type: end, status: failed}")
    assert (
        "steps.reviews.steps.reviewed.status: an end inside a region ends the region, "
        "not the instance"
    ) in refused(failing)
    endless = PURCHASE.replace("next: reviewed}", "next: legal2}").replace(
        "      reviewed: {type: end, result: approved}",
        "      reviewed: {type: end, result: approved}\n"
        "      legal2: {type: approval, assignees: {groups: [legal]}, outcomes: {ok: legal2}}",
    )
    messages = refused(endless)
    assert "steps.reviews.steps.legal2: no path from here reaches an end step" in messages
    assert "steps.reviews.steps.reviewed: unreachable from start" in messages
    compensate_elsewhere = PURCHASE.replace(
        "  order: {type: service, handler: test.b, next: done}",
        "  order: {type: service, handler: test.b, next: done,\n"
        "          events: [{message: x, next: done, compensate: true}]}",
    )
    assert "steps.order.events[0].compensate: unknown field" in refused(compensate_elsewhere)


def test_the_diagram_shows_the_region_where_its_inner_steps_are_current() -> None:
    import yaml

    from orchestration.definitions.diagram import render_svg

    svg = render_svg(yaml.safe_load(PURCHASE), highlight={"legal"})
    assert "region · 7 steps" in svg and "▶ now · region" in svg


def test_migration_keeps_tokens_in_their_region(purchase) -> None:
    from orchestration import services
    from orchestration.exceptions import MigrationRefused

    instance = purchase.start("purchase")
    renamed = PURCHASE.replace("  reviews:\n", "  review_box:\n").replace(
        "next: reviews}", "next: review_box}"
    )
    outside = renamed.replace(
        "  told: {type: end, result: withdrawn}",
        "  told: {type: end, result: withdrawn}\n"
        "  legal_desk: {type: approval, assignees: {groups: [legal]}, outcomes: {ok: told}}",
    ).replace("next: order\n", "next: order\n    # v3\n")
    purchase.publish(renamed)  # version 2: the region renamed
    purchase.publish(outside.replace("next: told, compensate", "next: legal_desk, compensate"))
    with pytest.raises(MigrationRefused) as refused_move:
        services.instance_migrate(
            key="purchase", source=1, target=3, actor=None,
            mapping={"reviews": "review_box", "legal": "legal_desk"},
        )  # fmt: skip
    assert refused_move.value.problems == {
        instance.pk: "step 'legal' maps to 'legal_desk', outside any region: "
        "a token stays in its region"
    }
    moved = services.instance_migrate(key="purchase", source=1, target=2, actor=None,
                                      mapping={"reviews": "review_box"})  # fmt: skip
    assert moved == [instance.pk]
    purchase.decide(task_of(instance, "legal"), "ok", as_="legal_lead")
    purchase.decide(task_of(instance, "finance"), "ok", as_="finance_lead")
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "ordered")
    assert instance.variables["review_box"]["result"] == "approved"
