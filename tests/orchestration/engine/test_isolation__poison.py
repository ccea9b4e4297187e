"""One bad instance fails alone: a poison instance of each kind sits in the same
worker batch as healthy ones; the healthy ones complete, the poison one becomes
an incident an operator can see and retry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from orchestration import services
from orchestration.exceptions import DefinitionInvalid, InstanceConflict, MigrationRefused
from orchestration.models import (
    HumanTask,
    ProcessEvent,
    ProcessInstance,
    StepRun,
    TaskVote,
    Timer,
)
from tests.orchestration.engine import handlers as h
from tests.orchestration.engine.conftest import ONE_STEP, THREE_STEPS, publish

pytestmark = pytest.mark.django_db

HEALTHY = 3


def start(key: str, **variables) -> ProcessInstance:
    return services.instance_start(key=key, variables=variables, actor=None)


def healthy_ones() -> list[ProcessInstance]:
    publish(ONE_STEP)
    return [start("one") for _ in range(HEALTHY)]


def assert_completed(instances: list[ProcessInstance]) -> None:
    for instance in instances:
        instance.refresh_from_db()
        assert (instance.status, instance.result) == ("completed", "ok")


def assert_incident(instance: ProcessInstance, kind: str, step: str) -> dict:
    instance.refresh_from_db()
    assert instance.status == "incident"
    assert (instance.error["type"], instance.error["step"]) == (kind, step)
    audit = ProcessEvent.objects.filter(instance=instance, kind="instance.incident").last()
    assert audit.to_status == "incident" and audit.payload["type"] == kind
    return instance.error


def test_a_resolver_that_raises_behind_a_wait_fails_only_its_instance(worker, clock) -> None:
    publish("""
key: ask
name: Ask
start: nap
steps:
  nap: {type: wait, timer: 1s, next: ask}
  ask: {type: approval, assignees: {resolver: test.broken}, outcomes: {ok: done}}
  done: {type: end, result: ok}
""")
    poison = start("ask")
    worker.run_until_idle()
    clock.advance(seconds=2)
    healthy = healthy_ones()
    worker.run_until_idle()
    assert_completed(healthy)
    error = assert_incident(poison, "RuntimeError", "ask")
    assert error["message"] == "the directory service is down" and error["source"] == "timer"
    assert not HumanTask.objects.filter(instance=poison).exists()
    # The timer stays pending, pushed forward: later rounds do not trip over it.
    timer = Timer.objects.get(instance=poison)
    assert timer.status == "pending" and timer.payload["deferred"] == 1
    assert timer.due_at == clock() + timedelta(seconds=30)
    more = [start("one") for _ in range(2)]
    clock.advance(minutes=1)
    worker.run_until_idle()
    assert_completed(more)
    timer.refresh_from_db()  # came due again, held again, pushed further
    assert timer.payload["deferred"] == 2 and timer.due_at == clock() + timedelta(minutes=1)
    assert ProcessEvent.objects.filter(instance=poison, kind="instance.incident").count() == 1
    # The operator fixes the directory and retries: the timer fires at once.
    h.DIRECTORY["down"] = False
    services.instance_retry(instance_id=poison.pk, actor=None)
    # Back at once to the status it had (waiting for its timer, not running),
    # before any worker round, and the audit row says the same.
    poison.refresh_from_db()
    assert (poison.status, poison.error) == ("waiting", None)
    retried = ProcessEvent.objects.get(instance=poison, kind="instance.incident_retried")
    assert (retried.from_status, retried.to_status) == ("incident", "waiting")
    worker.run_until_idle()
    poison.refresh_from_db()
    assert poison.status == "waiting" and poison.error is None
    assert HumanTask.objects.filter(instance=poison, step="ask", status="open").exists()


RESOLVED_AFTER_A_STEP = """
key: after
name: After
start: a
steps:
  a: {type: service, handler: test.a, next: ask}
  ask: {type: approval, assignees: {resolver: test.broken}, outcomes: {ok: done}}
  done: {type: end, result: ok}
"""


def test_a_result_that_cannot_be_applied_is_held_by_the_incident(worker) -> None:
    publish(RESOLVED_AFTER_A_STEP)
    poison = start("after")
    healthy = healthy_ones()
    worker.run_until_idle()  # one claim batch: the poison's run and the healthy ones
    assert_completed(healthy)
    error = assert_incident(poison, "RuntimeError", "ask")
    assert error["source"] == "report"
    assert [e["event"] for e in error["replay"]] == ["StepSucceeded"]
    run = StepRun.objects.get(instance=poison)
    assert run.status == "succeeded"  # the handler's work stands and is not run again
    h.DIRECTORY["down"] = False
    services.instance_retry(instance_id=poison.pk, actor=None)
    poison.refresh_from_db()
    assert poison.status == "waiting"
    assert h.CALLS["test.a"].count((f"pi{poison.pk}:a:1", 1)) == 1


def test_a_decision_whose_next_step_raises_stands_and_the_instance_holds_it(roles) -> None:
    from tests.conftest import make_user

    make_user("boss")
    publish("""
key: twice
name: Twice
start: first
steps:
  first: {type: approval, assignees: {users: [boss]}, outcomes: {ok: second}}
  second: {type: approval, assignees: {resolver: test.broken}, outcomes: {ok: done}}
  done: {type: end, result: ok}
""")
    instance = start("twice")
    task = HumanTask.objects.get(instance=instance)
    boss = make_user("bess")
    task.candidate_users = [boss.pk]
    task.save(update_fields=["candidate_users"])
    services.task_complete(task_id=task.pk, outcome="ok", data={}, actor=boss)
    # The vote stands; the task closes when the instance applies it.
    (vote,) = TaskVote.objects.filter(task=task)
    assert (vote.voter, vote.outcome) == (boss, "ok")
    error = assert_incident(instance, "RuntimeError", "second")
    assert [e["event"] for e in error["replay"]] == ["TaskVoted"]
    # Nothing but a cancel or a retry reaches it meanwhile.
    with pytest.raises(InstanceConflict, match="has an incident"):
        services.instance_send_message(instance_id=instance.pk, name="x", payload={}, actor=None)
    h.DIRECTORY["down"] = False
    services.instance_retry(instance_id=instance.pk, actor=None)
    instance.refresh_from_db()
    assert instance.status == "waiting"
    assert instance.variables["first"]["decided_by"] == "bess"
    task.refresh_from_db()
    assert (task.status, task.outcome, task.decided_by) == ("completed", "ok", boss)
    assert HumanTask.objects.get(instance=instance, step="second").status == "open"


def test_a_retry_that_fails_again_leaves_the_incident_with_the_new_error(worker) -> None:
    publish(RESOLVED_AFTER_A_STEP)
    poison = start("after")
    worker.run_until_idle()
    assert_incident(poison, "RuntimeError", "ask")
    services.instance_retry(instance_id=poison.pk, actor=None)  # still down
    error = assert_incident(poison, "RuntimeError", "ask")
    assert [e["event"] for e in error["replay"]] == ["StepSucceeded"]  # still held
    assert error["previous"]["status"] == "running"


def test_cancelling_an_incident_ends_it(worker) -> None:
    publish(RESOLVED_AFTER_A_STEP)
    poison = start("after")
    worker.run_until_idle()
    services.instance_cancel(instance_id=poison.pk, actor=None, reason="give up")
    poison.refresh_from_db()
    assert (poison.status, poison.result) == ("cancelled", "cancelled")


def test_an_output_the_database_would_refuse_fails_its_step_not_the_batch(worker) -> None:
    publish(ONE_STEP.replace("handler: test.a,", "handler: test.a, outputs: [doubled],"))
    h.PLAN["test.a"] = ["ok", "nul", "ok"]
    instances = [start("one") for _ in range(3)]
    worker.run_until_idle()
    assert_completed([instances[0], instances[2]])
    poison = instances[1]
    poison.refresh_from_db()
    assert (poison.status, poison.error["code"]) == ("failed", "INVALID_OUTPUT")
    assert poison.error["message"] == "outputs.doubled: text with a NUL character"


@pytest.mark.postgres
def test_a_write_the_database_refuses_fails_only_its_instance(worker) -> None:
    import json

    from django.db import connection

    from orchestration.engine.versions import clear_caches

    version = publish(ONE_STEP.replace("next: done", "next: b").replace(
        "  done:", "  b: {type: service, handler: test.b, next: done}\n  done:"
    ))  # fmt: skip
    # A version stored before step ids were capped at their column's 100
    # characters: inserting the run of its second step fails on PostgreSQL.
    spec = version.spec
    long_id = "b" * 150
    spec["steps"][long_id] = spec["steps"].pop("b")
    spec["steps"]["a"]["next"] = long_id
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE orchestration_processversion SET spec = %s WHERE id = %s",
            [json.dumps(spec), version.pk],
        )
    clear_caches()
    publish(THREE_STEPS)
    healthy = [start("three") for _ in range(2)]
    instances = [start("one") for _ in range(3)]
    worker.run_until_idle()  # one batch; its write fails, then each instance alone
    for instance in healthy:
        instance.refresh_from_db()
        assert (instance.status, instance.result) == ("completed", "done")
    # The three poison ones share the version: each fails alone and is recorded.
    for instance in instances:
        error = assert_incident(instance, "DataError", "a")
        assert error["source"] == "report"
    assert not StepRun.objects.filter(status="running").exists()


def test_a_title_that_cannot_be_rendered_is_an_evaluation_error_of_its_instance(
    worker, clock
) -> None:
    publish("""
key: big
name: Big
variables: {n: {type: integer, default: 5000}}
start: a
steps:
  a: {type: service, handler: test.a, next: ask}
  ask: {type: approval, title: "{{ 10**n }}", assignees: {users: [nobody]},
        outcomes: {ok: done}}
  done: {type: end, result: ok}
""")
    poison = start("big")
    healthy = healthy_ones()
    worker.run_until_idle()
    assert_completed(healthy)
    poison.refresh_from_db()
    assert poison.status == "failed" and poison.error["code"] == "EVALUATION"
    assert poison.error["step"] == "ask"
    # The same as a constant never runs: refused when published.
    with pytest.raises(DefinitionInvalid, match="expression cannot be evaluated: an integer"):
        publish(
            "key: big2\nname: B\nstart: ask\nsteps:\n  ask: {type: approval,"
            ' title: "{{ 10**5000 }}", assignees: {users: [nobody]}, outcomes: {ok: done}}\n'
            "  done: {type: end, result: ok}"
        )


def test_a_run_whose_lease_cannot_be_computed_fails_only_its_instance(worker, clock) -> None:
    healthy = healthy_ones()
    poison = start("one")
    # A row that no longer fits its definition (a step that is not there).
    StepRun.objects.filter(instance=poison).update(step="ghost")
    worker.run_until_idle()
    assert_completed(healthy)
    assert_incident(poison, "KeyError", "ghost")
    # The bad run is pushed back, not claimed in a tight loop.
    run = StepRun.objects.get(instance=poison)
    assert run.status == "ready" and run.due_at > clock()


def test_a_step_timeout_beyond_the_duration_cap_is_refused_at_save() -> None:
    with pytest.raises(DefinitionInvalid) as raised:
        publish(ONE_STEP.replace("handler: test.a,", "handler: test.a, timeout: 600000w,"))
    assert raised.value.messages == [
        "steps.a.timeout: at most 3650d (ORCHESTRATION_MAX_DURATION_DAYS)"
    ]


def test_a_sub_process_that_starts_itself_is_refused_at_publish() -> None:
    with pytest.raises(DefinitionInvalid) as raised:
        publish("""
key: loop
name: Loop
start: again
steps:
  again: {type: subprocess, definition: loop, next: done}
  done: {type: end, result: ok}
""")
    assert raised.value.messages == [
        "steps.again.definition: sub-process cycle loop -> loop"
        " (bound it with max_depth to recurse)"
    ]


def test_a_sub_process_cycle_through_another_definition_is_refused_at_publish() -> None:
    publish("""
key: a
name: A
start: done
steps:
  done: {type: end, result: ok}
""")
    publish("""
key: b
name: B
start: call
steps:
  call: {type: subprocess, definition: a, next: done}
  done: {type: end, result: ok}
""")
    with pytest.raises(DefinitionInvalid) as raised:
        publish("""
key: a
name: A
start: call
steps:
  call: {type: subprocess, definition: b, next: done}
  done: {type: end, result: ok}
""")
    assert raised.value.messages == [
        "steps.call.definition: sub-process cycle a -> b -> a (bound it with max_depth to recurse)"
    ]


def test_a_runaway_chain_of_sub_processes_ends_as_an_incident(worker, settings) -> None:
    settings.ORCHESTRATION_SUBPROCESS_DEPTH = 3
    publish("""
key: c5
name: C5
start: done
steps:
  done: {type: end, result: ok}
""")
    for n in (4, 3, 2, 1):
        publish(f"""
key: c{n}
name: C{n}
start: call
steps:
  call: {{type: subprocess, definition: c{n + 1}, next: done}}
  done: {{type: end, result: ok}}
""")
    healthy = healthy_ones()
    poison = start("c1")
    worker.run_until_idle()
    assert_completed(healthy)
    error = assert_incident(poison, "SubprocessDepthExceeded", "call")
    assert error["message"] == "sub-process depth limit 3 reached (ORCHESTRATION_SUBPROCESS_DEPTH)"
    assert ProcessInstance.objects.filter(parent__isnull=False).count() == 0


def test_a_run_without_a_declared_timeout_is_bounded_by_the_default(worker, settings) -> None:
    settings.ORCHESTRATION_DEFAULT_STEP_TIMEOUT = "1s"
    publish(ONE_STEP)
    h.PLAN["test.a"] = ["hang"]
    instance = start("one")
    worker.run_until_idle()
    run = StepRun.objects.get(instance=instance, attempt=1)
    assert (run.status, run.error["code"]) == ("failed", "TIMEOUT")
    h.RELEASE.set()


MIGRATE_V1 = """
key: mig
name: Mig
start: ask
steps:
  ask: {type: approval, assignees: {users: [boss]}, outcomes: {approve: done}}
  done: {type: end, result: ok}
"""


def test_migrating_an_open_task_whose_outcome_was_renamed_is_refused(roles) -> None:
    from tests.conftest import make_user

    make_user("boss")
    publish(MIGRATE_V1)
    instance = start("mig")
    publish(MIGRATE_V1.replace("approve: done", "accept: done"))
    with pytest.raises(MigrationRefused) as raised:
        services.instance_migrate(key="mig", source=1, target=2, mapping={}, actor=None)
    assert raised.value.problems == {
        instance.pk: "open task at 'ask' offers outcome 'approve', which version 2's 'ask' lacks"
    }


def test_incidents_show_in_instance_status_and_retry_resumes_them(worker, clock, capsys) -> None:
    healthy = healthy_ones()
    poison = start("one")
    StepRun.objects.filter(instance=poison).update(step="ghost")
    worker.run_until_idle()
    assert_incident(poison, "KeyError", "ghost")
    call_command("instance_status", str(poison.pk))
    shown = capsys.readouterr().out
    assert "incident" in shown and "KeyError" in shown and "ghost" in shown
    StepRun.objects.filter(instance=poison).update(step="a")  # the operator repairs the row
    services.instance_retry(instance_id=poison.pk, actor=None)
    worker.run_until_idle()
    assert_completed([*healthy, poison])
    assert ProcessEvent.objects.filter(instance=poison, kind="instance.incident_retried").exists()
