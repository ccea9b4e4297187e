"""A definition's `sla`: the instances over it now (report, API, gauges) and
the late ones once they moved on (counters, the report's roll-ups)."""

from __future__ import annotations

import pytest

from orchestration import services
from orchestration.models import HumanTask
from orchestration.reports import live
from orchestration.reports.queries import report
from tests.orchestration.engine.conftest import publish
from tests.orchestration.engine.test_metrics__engine import settle
from tests.scrape import TOKEN, value
from tests.scrape import scrape as scrape_with

pytestmark = pytest.mark.django_db

PROMISED = """
key: promised
name: Promised
start: fetch
sla:
  process: 1d
  steps: {review: 2h, cool: 1h}
steps:
  fetch: {type: service, handler: test.a, next: review}
  review:
    type: approval
    assignees: {groups: [managers]}
    outcomes: {approve: cool, reject: refused}
  cool: {type: wait, timer: 3h, next: done}
  done: {type: end, result: ok}
  refused: {type: end, result: no}
"""


def approve(instance, people) -> None:
    task = HumanTask.objects.get(instance=instance, status="open")
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=people["manager"])


def test_instances_over_their_expected_durations(client, settings, people, worker, clock) -> None:
    settings.ORCHESTRATION_METRICS_TOKEN = TOKEN
    version = publish(PROMISED)
    a, b, c, d = (
        services.instance_start(key="promised", variables={}, business_key=f"PO-{n}", actor=None)
        for n in "abcd"
    )
    worker.run_until_idle()

    def now():
        found = live.now_figures(version, clock.now)
        return found.over_sla

    clock.advance(hours=1)
    approve(a, people)  # a waits 3h in `cool` from here: over its 1h after 1h
    worker.run_until_idle()
    clock.advance(hours=1)  # b, c, d have been in review exactly 2h: not over yet
    over = now()
    assert (over.instances, over.steps) == (0, {})
    clock.advance(seconds=1)
    over = now()
    assert over.steps == {"review": 3, "cool": 1}
    # The furthest over first: a is 1h 1s past `cool`'s hour, the others 1s past review's 2h.
    assert [(late.instance_id, late.step) for late in over.listed][:1] == [(a.pk, "cool")]
    assert {late.instance_id for late in over.listed if late.step == "review"} == {b.pk, c.pk, d.pk}

    clock.advance(hours=1)  # b approved 3h after it came to review: it leaves late
    approve(b, people)
    clock.advance(hours=1)  # a's timer: it leaves `cool` 3h after it came, and ends (4h)
    worker.run_until_idle()
    clock.advance(hours=2)  # b's timer: it ends 6h 1s after its start
    worker.run_until_idle()
    clock.advance(hours=19)  # 1d 1s since the start: c and d run over the whole process
    services.instance_cancel(instance_id=d.pk, actor=None, reason="withdrawn")
    worker.run_until_idle()
    over = now()
    assert over.instances == 1  # c (b ended after 6h, d was cancelled)
    assert [(late.instance_id, late.step) for late in over.listed] == [(c.pk, "review"),
                                                                      (c.pk, "")]  # fmt: skip
    assert over.listed[1].business_key == "PO-c"
    settle()
    samples = scrape_with(client, settings)
    assert value(samples, "orchestration_instances_over_sla", definition="promised",
                 version="1") == 1  # fmt: skip
    assert value(samples, "orchestration_steps_over_sla", definition="promised", step="review") == 1
    assert value(samples, "orchestration_steps_over_sla", definition="promised", step="cool") == 0
    visits = {"definition": "promised"}
    assert value(samples, "orchestration_step_visits_late_total", **visits, step="review") == 1
    assert value(samples, "orchestration_step_visits_late_total", **visits, step="cool") == 2
    # a ended after 4h, b after 6h: under the day; d's cancellation is no lateness.
    assert value(samples, "orchestration_instances_late_total", definition="promised",
                 version="1") is None  # fmt: skip

    approve(c, people)  # 1d 1h 1s after the start: c ends late, 3h on
    clock.advance(hours=3)
    worker.run_until_idle()
    settle()
    samples = scrape_with(client, settings)
    assert value(samples, "orchestration_instances_late_total", definition="promised",
                 version="1") == 1  # fmt: skip
    assert value(samples, "orchestration_instances_over_sla", definition="promised",
                 version="1") == 0  # fmt: skip
    found = report(version, until=clock.now.date(), days=7)
    assert found.late == 1
    assert (found.steps["review"].late, found.steps["cool"].late) == (2, 3)
    assert found.figures()["sla"] == {"process_s": 86400.0,
                                      "steps": {"cool": 3600.0, "review": 7200.0}}  # fmt: skip


def test_a_definition_without_sla_has_no_expectations(people, worker, clock) -> None:
    from tests.orchestration.engine.test_metrics__engine import METERED

    version = publish(METERED)
    services.instance_start(key="metered", variables={"item": "a"}, actor=None)
    worker.run_until_idle()
    clock.advance(days=400)
    over = live.now_figures(version, clock.now).over_sla
    assert (over.instances, over.steps, over.listed) == (0, {}, [])
    assert report(version, until=clock.now.date()).sla is None
