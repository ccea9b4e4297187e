"""Operator interventions on a running instance: suspend and resume it, move
its flow (forward past a stuck step, or back to redo one). Each takes a
reason, is refused without the operator role and is audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import User
from orchestration import services
from orchestration.exceptions import InstanceConflict, InvalidInput
from orchestration.models import HumanTask, ProcessEvent, StepRun
from orchestration.testing import ProcessTest
from tests.conftest import make_user
from tests.orchestration.engine import handlers as test_handlers

pytestmark = pytest.mark.django_db

FLOW = """
key: flow
name: Flow
start: split
steps:
  split: {type: parallel, branches: [review, later]}
  review: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: check}}
  check: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: meet}}
  later: {type: wait, timer: 1h, next: work}
  work: {type: service, handler: test.a, next: meet}
  meet: {type: join, next: done}
  done: {type: end, result: ok}
"""


@pytest.fixture
def run(roles) -> Iterator[ProcessTest]:
    test_handlers.reset()
    make_user("ria", "reviewers")
    make_user("otto", "operator")
    with ProcessTest() as running:
        running.publish(FLOW)
        yield running
    test_handlers.reset()


def otto() -> User:
    return User.objects.get(username="otto")


def audit(instance) -> list[str]:
    return [e.kind for e in ProcessEvent.objects.filter(instance=instance).order_by("pk")]


def test_a_suspended_instance_holds_its_timers_and_decisions_until_resumed(run) -> None:
    instance = run.start("flow")
    services.instance_suspend(instance_id=instance.pk, reason="supplier audit", actor=otto())
    instance.refresh_from_db()
    assert instance.status == "suspended"
    assert instance.error["suspended"]["reason"] == "supplier audit"
    with pytest.raises(InstanceConflict) as held:
        run.decide(run.open_tasks(instance)[0], "ok", as_="ria")
    assert "is suspended (by otto: supplier audit)" in str(held.value)
    run.advance(hours=2)  # the 1h timer came due: it does not fire while suspended
    assert test_handlers.ORDER == []
    services.instance_resume(instance_id=instance.pk, reason="audit passed", actor=otto())
    run.run()
    instance.refresh_from_db()
    # It fires on resume: the overdue timer, then the step after it.
    assert instance.status == "waiting" and test_handlers.ORDER == ["test.a"]
    assert "instance.suspended" in audit(instance) and "instance.resumed" in audit(instance)
    run.decide(run.open_tasks(instance)[0], "ok", as_="ria")
    run.decide(run.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert instance.status == "completed"


def test_a_step_result_and_a_message_reaching_a_suspended_instance_are_kept(run) -> None:
    run.publish("""
key: msg
name: Msg
start: work
steps:
  work: {type: service, handler: test.a, next: hear}
  hear: {type: wait, message: go, next: done}
  done: {type: end, result: ok}
""")
    instance = services.instance_start(key="msg", variables={}, actor=None)
    services.instance_suspend(instance_id=instance.pk, reason="hold", actor=otto())
    run.run()
    assert test_handlers.ORDER == []  # its queued step waits
    services.instance_resume(instance_id=instance.pk, reason="go on", actor=otto())
    run.run()
    services.instance_suspend(instance_id=instance.pk, reason="again", actor=otto())
    run.message(instance, "go", {"n": 1})  # kept, not refused
    instance.refresh_from_db()
    assert instance.status == "suspended"
    services.instance_resume(instance_id=instance.pk, reason="go on", actor=otto())
    instance.refresh_from_db()
    assert (instance.status, instance.variables["hear"]) == ("completed", {"n": 1})


def test_suspending_and_resuming_need_an_operator_a_reason_and_a_live_instance(run) -> None:
    instance = run.start("flow")
    with pytest.raises(PermissionDenied):
        services.instance_suspend(instance_id=instance.pk, reason="x",
                                  actor=User.objects.get(username="ria"))  # fmt: skip
    with pytest.raises(InvalidInput) as no_reason:
        services.instance_suspend(instance_id=instance.pk, reason="  ", actor=otto())
    assert no_reason.value.errors == {"reason": ["required: say why the instance is put on hold"]}
    with pytest.raises(InstanceConflict):
        services.instance_resume(instance_id=instance.pk, reason="x", actor=otto())
    services.instance_cancel(instance_id=instance.pk, actor=otto())
    with pytest.raises(InstanceConflict) as ended:
        services.instance_suspend(instance_id=instance.pk, reason="x", actor=otto())
    assert "only a running, waiting, compensating or failed instance" in str(ended.value)


def test_cancelling_a_suspended_instance_compensates_what_finished_while_held(run) -> None:
    run.publish("""
key: undo
name: Undo
start: work
steps:
  work: {type: service, handler: test.a, compensate: test.undo_a, next: ask}
  ask: {type: approval, assignees: {groups: [reviewers]}, outcomes: {ok: done}}
  done: {type: end, result: ok}
""")
    instance = services.instance_start(key="undo", variables={}, actor=None)
    # The step runs; its result reaches the instance after it was suspended.
    (step_run,) = run.worker.claim()
    services.instance_suspend(instance_id=instance.pk, reason="hold", actor=otto())
    run.worker.report(run.worker.run_all([step_run]))
    services.instance_cancel(instance_id=instance.pk, actor=otto())
    run.run()
    instance.refresh_from_db()
    assert instance.status == "compensated" and test_handlers.ORDER == ["test.a", "test.undo_a"]


def test_redo_sends_the_flow_back_and_reopens_the_earlier_task(run) -> None:
    instance = run.start("flow")
    first = run.open_tasks(instance)[0]
    run.decide(first, "ok", as_="ria")
    services.instance_move(instance_id=instance.pk, source="check", target="review",
                           reason="wrong supplier checked", actor=otto())  # fmt: skip
    tasks = list(HumanTask.objects.filter(instance=instance).order_by("pk"))
    assert [(t.step, t.status) for t in tasks] == [
        ("review", "completed"), ("check", "withdrawn"), ("review", "open")
    ]  # fmt: skip
    moved = [
        e for e in ProcessEvent.objects.filter(instance=instance) if e.kind == "instance.moved"
    ]
    assert moved[0].payload["reason"] == "wrong supplier checked" and moved[0].actor == otto()


def test_moving_past_a_failed_step_lets_the_instance_run_again(run) -> None:
    instance = run.start("flow")
    test_handlers.PLAN["test.a"] = ["error:BROKEN"]
    run.advance(hours=1)
    instance.refresh_from_db()
    assert instance.status == "failed" and instance.error["step"] == "work"
    services.instance_move(instance_id=instance.pk, source="work", target="meet",
                           reason="done by hand", actor=otto())  # fmt: skip
    instance.refresh_from_db()
    assert (instance.status, instance.error) == ("waiting", None)
    run.decide(run.open_tasks(instance)[0], "ok", as_="ria")
    run.decide(run.open_tasks(instance)[0], "ok", as_="ria")
    instance.refresh_from_db()
    assert instance.status == "completed"
    assert StepRun.objects.filter(instance=instance, step="work").count() == 1


def test_moves_stay_within_the_branches_and_name_real_steps(run) -> None:
    instance = run.start("flow")
    with pytest.raises(InstanceConflict) as outside:
        services.instance_move(instance_id=instance.pk, source="review", target="done",
                               reason="x", actor=otto())  # fmt: skip
    assert "'review' is a branch of a parallel: 'done' is outside it" in str(outside.value)
    with pytest.raises(InvalidInput) as unknown:
        services.instance_move(instance_id=instance.pk, source="review", target="nowhere",
                               reason="x", actor=otto())  # fmt: skip
    assert unknown.value.errors == {"to": ["unknown step 'nowhere'"]}
    with pytest.raises(InstanceConflict) as absent:
        services.instance_move(instance_id=instance.pk, source="check", target="review",
                               reason="x", actor=otto())  # fmt: skip
    assert "the flow is not at 'check'" in str(absent.value)
    with pytest.raises(PermissionDenied):
        services.instance_move(instance_id=instance.pk, source="review", target="check",
                               reason="x", actor=User.objects.get(username="ria"))  # fmt: skip
    assert [t.status for t in HumanTask.objects.filter(instance=instance)] == ["open"]


def test_asking_for_input_adds_a_person_without_handing_the_task_over(run) -> None:
    from django.core import mail

    make_user("sam", email="sam@example.com")
    instance = run.start("flow")
    task = run.open_tasks(instance)[0]
    services.task_claim(task_id=task.pk, actor=User.objects.get(username="ria"))
    with pytest.raises(InvalidInput) as no_reason:
        services.task_ask_input(task_id=task.pk, actor=otto(),
                                to=User.objects.get(username="sam"), reason=" ")  # fmt: skip
    assert "reason" in no_reason.value.errors
    with pytest.raises(PermissionDenied):
        services.task_ask_input(task_id=task.pk, actor=User.objects.get(username="ria"),
                                to=User.objects.get(username="sam"), reason="x")  # fmt: skip
    services.task_ask_input(task_id=task.pk, actor=otto(), to=User.objects.get(username="sam"),
                            reason="is this vendor on the list?")  # fmt: skip
    task.refresh_from_db()
    sam = User.objects.get(username="sam")
    assert task.claimed_by.username == "ria" and sam.pk in task.candidate_users
    # sam sees it and may comment, but ria holds it: sam cannot decide it.
    services.task_comment(task_id=task.pk, actor=sam, text="yes, approved supplier")
    with pytest.raises(PermissionDenied):
        run.decide(task, "ok", as_="sam")
    run.advance(seconds=1)  # the outbox
    assert [m.subject for m in mail.outbox if "sam@example.com" in m.to] == [
        f"Your input is asked: {task.title}"
    ]
    asked = ProcessEvent.objects.get(instance=instance, kind="task.input_asked")
    assert asked.payload["reason"] == "is this vendor on the list?" and asked.actor == otto()


def test_the_task_history_says_why_a_task_was_withdrawn_or_moved(run) -> None:
    from orchestration import selectors

    instance = run.start("flow")
    services.instance_suspend(instance_id=instance.pk, reason="audit", actor=otto())
    services.instance_resume(instance_id=instance.pk, reason="done", actor=otto())
    services.instance_move(instance_id=instance.pk, source="review", target="review",
                           reason="start over", actor=otto())  # fmt: skip
    first = HumanTask.objects.filter(instance=instance).order_by("pk").first()
    texts = [entry["text"] for entry in selectors.task_history(first)]
    assert texts == [
        "otto suspended the instance (operator): audit",
        "otto resumed the instance (operator): done",
        "otto moved the flow from review to review (operator): start over",
    ]


def test_a_suspended_instance_is_not_migrated_until_resumed(run) -> None:
    from orchestration.exceptions import MigrationRefused

    instance = run.start("flow")
    run.publish(FLOW.replace("name: Flow", "name: Flow two"))
    services.instance_suspend(instance_id=instance.pk, reason="audit", actor=otto())
    plan = services.instance_migration_plan(key="flow", source=1, target=2, mapping={},
                                            actor=otto())  # fmt: skip
    assert plan[0]["problem"] == "it is suspended: resume it first"
    with pytest.raises(MigrationRefused):
        services.instance_migrate(key="flow", source=1, target=2, mapping={}, actor=otto())
    instance.refresh_from_db()
    assert (instance.status, instance.version.number) == ("suspended", 1)
