"""Sensitive values in the engine: sealed wherever the product stores them,
open for expressions and handlers, masked in titles, messages and the audit log."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from orchestration import sensitive
from orchestration.definitions.errors import DefinitionInvalid
from orchestration.handlers import StepContext, handler
from orchestration.models import HumanTask, ProcessEvent, ProcessInstance, TaskVote
from orchestration.testing import ProcessTest
from tests.conftest import make_user
from tests.orchestration.retention.conftest import places_holding, settle

# Values as people write them: the IBAN with a non-ASCII owner name, so an
# escaped copy (\u00f8) is searched for too; a salary no other field holds.
IBAN = "NO93 8601 1117 947 Bjørnstad"
SALARY = 123457
ANSWER = "Frå Tromsø, ring etter kl. 16"

SEEN: list[dict[str, Any]] = []


@handler("test.payroll_reads")
def _reads(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    """Sees the values open; returns a copy of the IBAN under another name."""
    SEEN.append(dict(variables))
    return {"account": variables["iban"], "checked": True}


PAYROLL = """
key: payroll
name: Bank details change
variables:
  employee: {type: string}
  iban: {type: string, sensitive: true}
  salary: {type: number, sensitive: true}
start: check
steps:
  check:
    type: service
    handler: test.payroll_reads
    outputs: [account, checked]
    next: route
  route:
    type: decision
    branches:
      - when: "salary > 100000 and iban[:2] == 'NO'"
        next: approve
    default: done
  approve:
    type: approval
    title: "Account {{ iban }} of {{ employee }} ({{ salary }})"
    assignees: {groups: [managers]}
    form:
      - {name: callback, type: text, sensitive: true}
      - {name: note, type: text}
    outcomes: {approve: tell, reject: done}
  tell:
    type: notify
    to: {groups: [managers]}
    subject: "Changed to {{ iban }} for {{ employee }}"
    message: "Called back: {{ approve.callback }}"
    next: done
  done: {type: end}
"""


@pytest.fixture
def run(roles) -> Iterator[ProcessTest]:
    SEEN.clear()
    make_user("mia", "managers")
    with ProcessTest() as running:
        running.publish(PAYROLL)
        yield running


def decided(run: ProcessTest) -> Any:
    instance = run.start("payroll", {"employee": "Kari Nordmann", "iban": IBAN, "salary": SALARY})
    (task,) = run.open_tasks(instance)
    run.decide(task, "approve", as_="mia", data={"callback": ANSWER, "note": "fine"})
    instance.refresh_from_db()
    settle(run)
    return instance


def test_expressions_and_handlers_see_the_values_the_database_never_does(run):
    instance = decided(run)

    assert instance.status == "completed"  # the decision read salary and iban: it chose approve
    assert SEEN[0]["iban"] == IBAN and SEEN[0]["salary"] == SALARY
    assert places_holding(IBAN) == []
    assert places_holding(ANSWER) == []
    assert places_holding(str(SALARY)) == []
    stored = instance.variables
    assert sensitive.is_sealed(stored["iban"]) and sensitive.is_sealed(stored["salary"])
    # The handler's copy of the IBAN under another name stays sealed too.
    assert sensitive.is_sealed(stored["account"])
    assert stored["checked"] is True and stored["employee"] == "Kari Nordmann"
    assert sensitive.is_sealed(stored["approve"]["callback"])
    assert stored["approve"]["note"] == "fine"
    assert sensitive.opened(stored)["approve"]["callback"] == ANSWER
    assert sensitive.opened(stored)["account"] == IBAN


def test_titles_messages_and_the_audit_log_show_them_masked(run):
    instance = decided(run)

    task = HumanTask.objects.get(instance=instance)
    assert task.title == f"Account {sensitive.MASK} of Kari Nordmann ({sensitive.MASK})"
    assert sensitive.is_sealed(task.data["callback"]) and task.data["note"] == "fine"
    vote = TaskVote.objects.get(task=task)
    assert sensitive.is_sealed(vote.data["callback"])
    told = ProcessEvent.objects.get(instance=instance, kind="notification",
                                    payload__reason="told")  # fmt: skip
    assert told.payload["title"] == f"Changed to {sensitive.MASK} for Kari Nordmann"
    assert ANSWER not in str(told.payload) and sensitive.MASK in told.payload["message"]
    for row in ProcessEvent.objects.filter(instance=instance):
        assert not sensitive.holds_sealed(row.payload), row.kind  # never an envelope either


def test_an_operators_change_is_sealed_and_audited_masked(run):
    instance = run.start("payroll", {"employee": "Kari", "iban": IBAN, "salary": SALARY})
    changed = run.set_variables(instance, iban="DE89 3704 0044 0532 0130 00", salary=99)

    assert sensitive.opened(changed.variables)["iban"] == "DE89 3704 0044 0532 0130 00"
    row = ProcessEvent.objects.get(instance=instance, kind="instance.variables_set")
    assert row.payload["before"] == {"iban": sensitive.MASK, "salary": sensitive.MASK}
    assert row.payload["after"] == {"iban": sensitive.MASK, "salary": sensitive.MASK}
    assert places_holding("DE89 3704") == []


def test_a_definition_marking_values_sensitive_needs_keys_to_publish(run, settings):
    settings.ORCHESTRATION_ENCRYPTION_KEYS = ""
    source = PAYROLL.replace("key: payroll", "key: payroll-two")
    with pytest.raises(DefinitionInvalid) as refused:
        run.publish(source)
    paths = {e.path for e in refused.value.errors}
    assert paths == {"variables.iban.sensitive", "variables.salary.sensitive",
                     "steps.approve.form[0].sensitive"}  # fmt: skip
    assert "ORCHESTRATION_ENCRYPTION_KEYS" in refused.value.errors[0].message


@pytest.mark.parametrize(
    ("declaration", "path"),
    [
        ("{type: string, sensitive: true, default: x}", "variables.iban.default"),
        ("{type: array, items: {type: string, sensitive: true}}", "variables.iban.items.sensitive"),
    ],
)
def test_a_sensitive_value_is_sealed_whole_and_never_written_in_the_definition(
    run, declaration, path
):
    source = PAYROLL.replace("iban: {type: string, sensitive: true}", f"iban: {declaration}")
    with pytest.raises(DefinitionInvalid) as refused:
        run.publish(source.replace("key: payroll", "key: payroll-three"))
    assert path in {e.path for e in refused.value.errors}


def test_the_comment_cannot_be_sensitive_it_is_kept_in_the_thread(run):
    source = PAYROLL.replace(
        "- {name: note, type: text}", "- {name: comment, type: text, sensitive: true}"
    )
    with pytest.raises(DefinitionInvalid) as refused:
        run.publish(source.replace("key: payroll", "key: payroll-four"))
    assert [e.path for e in refused.value.errors] == ["steps.approve.form[1].sensitive"]


def test_rotating_the_key_keeps_every_value_readable_under_the_new_key_alone(run, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command
    from django.core.management.base import CommandError

    old = settings.ORCHESTRATION_ENCRYPTION_KEYS
    waiting = run.start("payroll", {"employee": "Ola", "iban": IBAN, "salary": SALARY})
    done = decided(run)
    new = Fernet.generate_key().decode()
    settings.ORCHESTRATION_ENCRYPTION_KEYS = f"{new},{old}"
    from orchestration.retention import rotation

    before = rotation.left_under_older_keys()
    assert before >= 8  # variables, copies, the task's data, the vote, held in the two instances

    out = io.StringIO()
    call_command("rotate_encryption_keys", stdout=out)
    assert "0 value(s) left under older keys" in out.getvalue()
    row = ProcessEvent.objects.get(kind="sensitive.rotated")
    assert row.payload["instances"] == 2 and row.payload["values"] == before

    settings.ORCHESTRATION_ENCRYPTION_KEYS = new  # the old key is gone
    for instance in (waiting, done):
        instance.refresh_from_db()
        assert sensitive.opened(instance.variables)["iban"] == IBAN
    task = HumanTask.objects.get(instance=done)
    assert sensitive.opened(task.data)["callback"] == ANSWER
    assert sensitive.opened(TaskVote.objects.get(task=task).data)["callback"] == ANSWER
    (open_task,) = run.open_tasks(waiting)  # and the engine goes on under the new key
    run.decide(open_task, "approve", as_="mia", data={"callback": "x", "note": "y"})
    waiting.refresh_from_db()
    assert waiting.status == "completed"

    # A value sealed under a key nobody configured fails its instance alone.
    stray = Fernet(Fernet.generate_key()).encrypt(b'"lost"').decode()
    third = run.start("payroll", {"employee": "Per", "iban": IBAN, "salary": 1})
    third.variables = {**third.variables, "employee": {sensitive.FIELD: stray}}
    third.save(update_fields=["variables"])
    settings.ORCHESTRATION_ENCRYPTION_KEYS = f"{Fernet.generate_key().decode()},{new}"
    with pytest.raises(CommandError, match=f"1 instance.*: {third.pk}"):
        call_command("rotate_encryption_keys", stdout=io.StringIO())
    for instance in (waiting, done):
        instance.refresh_from_db()
        assert sensitive.opened(instance.variables)["iban"] == IBAN  # rotated again, still read
    # The stray one and its instance's other three (iban, salary, the copy): left as they were.
    assert rotation.left_under_older_keys() == 4


CHECK_ACCOUNT = """
key: check-account
name: Check an account (knows nothing of sensitive values)
variables:
  account: {type: string}
start: look
steps:
  look: {type: service, handler: test.payroll_echo, outputs: [verified], next: done}
  done: {type: end}
"""

CALLER = """
key: payroll-caller
name: Bank details change, checked by a sub-process
variables:
  iban: {type: string, sensitive: true}
start: check
steps:
  check:
    type: subprocess
    definition: check-account
    input: {account: iban}
    result: checked
    next: route
  route:
    type: decision
    branches:
      - {when: "checked.variables.verified == iban", next: done}
    default: failed
  done: {type: end}
  failed: {type: end, status: failed}
"""


@handler("test.payroll_echo")
def _echo(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    return {"verified": variables["account"]}


def test_a_child_keeps_its_parents_sensitive_values_sealed_and_gives_them_back_sealed(run):
    run.publish(CHECK_ACCOUNT)
    run.publish(CALLER)
    parent = run.start("payroll-caller", {"iban": IBAN})

    # The decision compared the child's answer with the value: both were open for it.
    assert parent.status == "completed", parent.error
    child = ProcessInstance.objects.get(parent=parent)
    assert sensitive.is_sealed(child.variables["account"])
    assert sensitive.is_sealed(child.variables["verified"])  # its handler's copy
    assert sensitive.is_sealed(parent.variables["checked"]["variables"]["account"])
    assert places_holding(IBAN) == []
