"""Regions that may not run at once (`exclusive: name`): WCP39 critical
section, WCP40 interleaved routing (each branch once, in any order, never two
at a time) and WCP17 interleaved parallel routing (the same, with an order
kept within each branch). And WCP18 milestone: a branch condition that asks
where the other flows stand (`active_steps`)."""

from __future__ import annotations

import pytest

from orchestration.models import HumanTask
from tests.orchestration.patterns.conftest import calls, refused

pytestmark = pytest.mark.django_db


def box(name: str, steps: str, nxt: str = "meet") -> str:
    """An exclusive region holding `steps` (the first is its start)."""
    start = steps.strip().split(":")[0]
    indented = "\n".join("      " + line for line in steps.strip().splitlines())
    return f"""  {name}:
    type: region
    exclusive: desk
    start: {start}
    steps:
{indented}
    next: {nxt}
"""


INTERLEAVED = (
    """
key: interleaved
name: Interleaved
start: split
steps:
  split: {type: parallel, branches: [check_a, check_b, check_c]}
"""
    + box("check_a", "a_task: {type: approval, title: A, assignees: {groups: [reviewers]},"
          " outcomes: {ok: a_end}}\na_end: {type: end}")
    + box("check_b", "b_task: {type: approval, title: B, assignees: {groups: [reviewers]},"
          " outcomes: {ok: b_end}}\nb_end: {type: end}")
    + box("check_c", "c_run: {type: service, handler: test.c, next: c_task}\n"
          "c_task: {type: approval, title: C, assignees: {groups: [reviewers]},"
          " outcomes: {ok: c_end}}\nc_end: {type: end}")
    + """  meet: {type: join, next: done}
  done: {type: end, result: ok}
"""
)  # fmt: skip


def open_titles(instance) -> list[str]:
    return sorted(HumanTask.objects.filter(instance=instance, status="open")
                  .values_list("title", flat=True))  # fmt: skip


def test_wcp40_interleaved_routing_runs_each_branch_once_one_at_a_time(process) -> None:
    process.publish(INTERLEAVED)
    instance = process.start("interleaved")
    seen = []
    for _ in range(3):
        titles = open_titles(instance)
        assert len(titles) == 1  # never two branches at once
        seen.append(titles[0])
        process.decide(HumanTask.objects.get(instance=instance, status="open"), "ok", as_="ria")
    instance.refresh_from_db()
    assert instance.status == "completed" and sorted(seen) == ["A", "B", "C"]


def test_wcp17_interleaved_parallel_routing_keeps_the_order_inside_a_branch(process) -> None:
    process.publish(INTERLEAVED)
    instance = process.start("interleaved")
    for _ in range(3):
        process.decide(HumanTask.objects.get(instance=instance, status="open"), "ok", as_="ria")
    # Branch C's service ran right before its own approval, never between
    # another branch's steps: C's two steps ran together, in their order.
    order = [t.title for t in HumanTask.objects.filter(instance=instance).order_by("pk")]
    c_at = order.index("C")
    assert calls() == ["c"] and all(t in ("A", "B") for t in order[:c_at])


def test_wcp39_critical_section_two_different_regions_share_one_name(process) -> None:
    process.publish("""
key: critical
name: Critical
start: split
steps:
  split: {type: parallel, branches: [prepare, book]}
  prepare: {type: service, handler: test.a, next: edit_ledger}
"""
    + box("edit_ledger", "post: {type: approval, title: Post, assignees: {groups: [reviewers]},"
          " outcomes: {ok: posted}}\nposted: {type: end}")
    + box("book", "close: {type: approval, title: Close, assignees: {groups: [reviewers]},"
          " outcomes: {ok: closed}}\nclosed: {type: end}")
    + """  meet: {type: join, next: done}
  done: {type: end, result: ok}
""")  # fmt: skip
    instance = process.start("critical")
    assert open_titles(instance) == ["Close"]  # `book` got the section first; Post waits
    process.decide(HumanTask.objects.get(instance=instance, status="open"), "ok", as_="ria")
    assert open_titles(instance) == ["Post"]
    process.decide(HumanTask.objects.get(instance=instance, status="open"), "ok", as_="ria")
    instance.refresh_from_db()
    assert instance.status == "completed" and "locks" not in instance.state


def test_a_queued_region_withdrawn_gives_up_its_turn(process) -> None:
    process.publish(INTERLEAVED.replace("branches: [check_a, check_b, check_c]",
                                        "branches: [check_a, check_b, check_c, stop]")
                    .replace("  meet: {type: join, next: done}",
                             "  stop: {type: wait, message: enough, next: meet}\n"
                             "  meet: {type: join, wait_for: 2, next: done}"))  # fmt: skip
    instance = process.start("interleaved")
    process.decide(HumanTask.objects.get(instance=instance, status="open"), "ok", as_="ria")
    instance = process.message(instance, "enough")  # two arrived: the rest are withdrawn
    assert instance.status == "completed"
    assert instance.state["tokens"] == {} and "locks" not in instance.state
    assert open_titles(instance) == []


MILESTONE = """
key: milestone
name: Milestone
start: split
steps:
  split: {type: parallel, branches: [ship, watch]}
  ship: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: meet}}
  watch: {type: wait, timer: 1h, next: still_open}
  still_open:
    type: decision
    branches:
      - {when: "'ship' in active_steps", next: change_order}
    default: meet
  change_order: {type: service, handler: test.a, next: meet}
  meet: {type: join, next: done}
  done: {type: end, result: ok}
"""


def test_wcp18_milestone_a_step_runs_only_while_another_branch_is_at_a_step(process) -> None:
    process.publish(MILESTONE)
    late = process.start("milestone")
    process.advance(hours=1)  # `ship` is still open: the order can change
    assert calls() == ["a"]
    process.decide(process.open_tasks(late)[0], "ok", as_="ria")
    early = process.start("milestone")
    process.decide(process.open_tasks(early)[0], "ok", as_="ria")
    process.advance(hours=1)  # shipped already: the milestone has passed
    assert calls() == ["a"]
    early.refresh_from_db()
    assert early.status == "completed"


def test_exclusive_regions_and_active_steps_are_validated(process) -> None:
    nested = INTERLEAVED.replace(
        "a_task: {type: approval, title: A, assignees: {groups: [reviewers]},"
        " outcomes: {ok: a_end}}",
        "a_task: {type: region, exclusive: desk, start: a_in, steps: {a_in: {type: end}},"
        " next: a_end}",
    )  # fmt: skip
    assert (
        "steps.check_a.steps.a_task.exclusive: inside region 'check_a', which holds 'desk'"
        " already: it would wait for itself" in refused(nested)
    )
    reserved = MILESTONE.replace("start: split", "variables: {active_steps: {type: array}}\n"
                                 "start: split")  # fmt: skip
    assert "variables.active_steps: 'active_steps' is a reserved name" in refused(reserved)
