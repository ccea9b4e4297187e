"""The command line for scripts and operators."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orchestration.engine import wakeup
from orchestration.models import HumanTask, ProcessInstance
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish
from tests.orchestration.engine.test_runtime__flows import CHAIN

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


@pytest.fixture
def chain(db, people) -> None:
    publish(CHAIN)


def test_start_prints_the_id_and_bad_variables_exit_non_zero(chain) -> None:
    pk = run(
        "start_instance",
        "chain",
        "--variables",
        '{"n": 2}',
        "--business-key",
        "PO-7",
        "--as",
        "sam",
    )
    instance = ProcessInstance.objects.get(pk=int(pk))
    assert (instance.business_key, instance.started_by.username) == ("PO-7", "sam")
    with pytest.raises(CommandError) as raised:
        run("start_instance", "chain", "--variables", '{"n": "two", "x": 1}')
    assert raised.value.returncode == 1
    assert str(raised.value) == (
        "the input is not valid\nvariables.n: expected integer, got string"
        "\nvariables.x: unknown variable"
    )
    with pytest.raises(CommandError, match="not valid JSON"):
        run("start_instance", "chain", "--variables", "{n: 2")
    make_user("olga")
    with pytest.raises(CommandError, match=r"^olga lacks the requester role$"):
        run("start_instance", "chain", "--variables", '{"n": 2}', "--as", "olga")
    with pytest.raises(CommandError, match="no published or deprecated version 9"):
        run("start_instance", "chain", "--variables", '{"n": 2}', "--version", "9")
    assert ProcessInstance.objects.count() == 1


def test_status_complete_and_json(chain, worker) -> None:
    pk = int(run("start_instance", "chain", "--variables", '{"n": 2}', "--as", "sam"))
    worker.run_until_idle()
    data = json.loads(run("instance_status", str(pk), "--json"))
    assert {"id", "status", "result", "variables", "current_steps", "open_tasks", "steps"} <= set(
        data
    )
    assert (data["status"], data["current_steps"]) == ("waiting", ["ask"])
    task = HumanTask.objects.get()
    assert data["open_tasks"] == [
        {
            "id": task.pk,
            "step": "ask",
            "title": "n is 2",
            "assignees": [{"group": "managers"}],
            "due_at": None,
        }
    ]
    assert [(s["step"], s["status"]) for s in data["steps"]] == [
        ("a", "succeeded"),
        ("b", "succeeded"),
    ]
    text = run("instance_status", str(pk))
    assert "waiting" in text and f"#{task.pk} ask: n is 2 (group:managers)" in text
    with pytest.raises(
        CommandError,
        match=r"^sam started this instance and is excluded from deciding it \(four-eyes\)$",
    ):
        run("complete_task", str(task.pk), "--outcome", "approve", "--as", "sam")
    with pytest.raises(CommandError, match=r"data\.comment: required to reject"):
        run("complete_task", str(task.pk), "--outcome", "reject", "--as", "molly")
    assert (
        run(
            "complete_task",
            str(task.pk),
            "--outcome",
            "approve",
            "--as",
            "molly",
            "--data",
            '{"score": 3}',
        )
        == f"task {task.pk} approve"
    )
    with pytest.raises(CommandError, match="already completed"):
        run("complete_task", str(task.pk), "--outcome", "approve", "--as", "molly")
    worker.run_until_idle()
    assert json.loads(run("instance_status", str(pk), "--json"))["result"] == "done"
    with pytest.raises(CommandError, match=r"^no instance 999999$"):
        run("instance_status", "999999")


def test_migrate_instances_command(chain, worker) -> None:
    pk = int(run("start_instance", "chain", "--variables", '{"n": 2}', "--as", "sam"))
    worker.run_until_idle()
    publish(CHAIN.replace("  ask:\n", "  review:\n").replace("next: ask", "next: review"))
    with pytest.raises(CommandError) as refused:
        run("migrate_instances", "chain", "--from", "1", "--to", "2")
    assert f"instance {pk}: step 'ask' has no counterpart in version 2" in str(refused.value)
    assert run(
        "migrate_instances", "chain", "--from", "1", "--to", "2", "--map", "ask=review", "--dry-run"
    ).startswith("would move 1 instance(s)")
    assert ProcessInstance.objects.get(pk=pk).version.number == 1
    assert run(
        "migrate_instances", "chain", "--from", "1", "--to", "2", "--map", "ask=review"
    ).startswith("moved 1 instance(s) from v1 to v2")
    assert ProcessInstance.objects.get(pk=pk).version.number == 2
    with pytest.raises(CommandError, match="expected old_step=new_step"):
        run("migrate_instances", "chain", "--from", "1", "--to", "2", "--map", "ask")


def test_operator_commands(chain, worker) -> None:
    pk = int(run("start_instance", "chain", "--variables", '{"n": 2}'))
    worker.run_until_idle()
    with pytest.raises(CommandError, match="nothing is waiting for message 'go'"):
        run("send_message", str(pk), "go")
    with pytest.raises(CommandError, match="only a failed instance can be retried"):
        run("retry_instance", str(pk))
    assert (
        run("cancel_instance", str(pk), "--reason", "test", "--as", "opal")
        == f"instance {pk} compensating"
    )
    worker.run_until_idle()
    assert ProcessInstance.objects.get(pk=pk).status == "compensated"
    with pytest.raises(CommandError, match="not ready: workers"):  # no engine loop ran
        run("engine_status", "--json")
    wakeup.beat("loop-1")
    status = json.loads(run("engine_status", "--json"))
    assert status["tasks_open"] == 0 and status["steps_ready"] == 0
    assert status["ready"] and status["checks"]["workers"]["ok"]
