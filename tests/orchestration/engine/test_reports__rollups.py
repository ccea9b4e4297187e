"""The SLA report's numbers, folded from the audit log into daily roll-ups:
throughput per day, durations, time spent in each step, escalations,
retries, failures and the edges taken."""

from __future__ import annotations

import pytest

from orchestration import jobs, services
from orchestration.metrics import fold
from orchestration.models import HumanTask
from orchestration.reports.queries import report
from tests.orchestration.engine import handlers
from tests.orchestration.engine.conftest import publish
from tests.orchestration.engine.test_metrics__engine import METERED

pytestmark = pytest.mark.django_db

HOUR = 3600.0


def settle() -> None:
    jobs.seal_audit()
    fold.fold_pending()


def decide(instance, outcome: str, people) -> None:
    task = HumanTask.objects.get(instance=instance, status="open")
    services.task_complete(task_id=task.pk, outcome=outcome, data={}, actor=people["manager"])


def test_a_day_of_three_instances(people, worker, clock) -> None:
    version = publish(METERED)
    handlers.PLAN["test.a"] = ["retry", "ok", "ok", "error:boom"]
    approved = services.instance_start(key="metered", variables={"item": "a"}, actor=None)
    rejected = services.instance_start(key="metered", variables={"item": "b"}, actor=None)
    worker.run_until_idle()
    clock.advance(seconds=10)  # the first one's retry
    worker.run_until_idle()
    services.instance_start(key="metered", variables={"item": "c"}, actor=None)  # fails
    worker.run_until_idle()
    clock.advance(hours=2)  # both reminders fire after an hour
    worker.run_until_idle()
    decide(approved, "approve", people)
    clock.advance(hours=1)
    decide(rejected, "reject", people)
    worker.run_until_idle()
    settle()

    found = report(version, until=clock.now.date())
    assert (found.started, found.completed, found.failed, found.incidents) == (3, 2, 1, 0)
    today = found.days[-1]
    assert (today.day, today.started, today.completed, today.failed) == (clock.now.date(), 3, 2, 1)
    assert len(found.days) == 30 and found.days[0].started == 0
    review = found.steps["review"]
    # Two decisions: after about 2 h and about 3 h in review (within a bucket: 6 %).
    assert review.left == 2 and review.escalations == {"0": 2}
    assert 2 * HOUR * 0.94 < review.p50 < 2 * HOUR * 1.06
    assert 3 * HOUR * 0.94 < review.p95 < 3 * HOUR * 1.06
    fetch = found.steps["fetch"]
    assert (fetch.retries, fetch.failures, fetch.left) == (1, 1, 2)
    assert fetch.p95 < 11  # the retried one waited 10 s for its second attempt
    assert found.edges == {
        ("", "fetch"): 3, ("fetch", "review"): 2, ("review", "done"): 1, ("review", "refused"): 1,
    }  # fmt: skip
    # End to end: the failed one at once, the others after about 2 h and 3 h.
    assert 3 * HOUR * 0.94 < found.p95 < 3 * HOUR * 1.06
    settle()  # nothing new: nothing counted twice
    assert report(version, until=clock.now.date()).edges == found.edges


def test_days_are_kept_apart_and_the_window_ends_where_asked(people, worker, clock) -> None:
    version = publish(METERED)
    services.instance_start(key="metered", variables={"item": "a"}, actor=None)
    worker.run_until_idle()
    clock.advance(days=1)
    services.instance_start(key="metered", variables={"item": "b"}, actor=None)
    worker.run_until_idle()
    settle()
    both = report(version, until=clock.now.date(), days=2)
    assert [d.started for d in both.days] == [1, 1]
    yesterday = report(version, until=clock.now.date().fromordinal(clock.now.toordinal() - 1),
                       days=7)  # fmt: skip
    assert yesterday.started == 1 and yesterday.days[-1].started == 1
    assert yesterday.figures()["started"] == 1
