"""for_each: one approval per entry, one after another or all at once."""

from __future__ import annotations

import pytest

from orchestration import services
from orchestration.models import HumanTask
from tests.conftest import make_user
from tests.orchestration.engine.conftest import candidates, publish

pytestmark = pytest.mark.django_db

CHAIN = """
key: chain
name: Chain
variables:
  approvers: {{type: array, items: {{type: string}}, required: true}}
start: sign
steps:
  sign:
    type: approval
    title: "Signature of {{{{ who }}}}"
    for_each: {{items: approvers, as: who, mode: {mode}}}
    assignees: {{users: ["{{{{ who }}}}"]}}
    {quorum}
    outcomes: {{approve: signed, reject: refused}}
  signed: {{type: end, result: signed}}
  refused: {{type: end, result: refused}}
"""


@pytest.fixture
def signers(roles):
    return {name: make_user(name) for name in ("ann", "bob", "cy")}


def start(mode: str, approvers: list[str], quorum: str = ""):
    publish(CHAIN.format(mode=mode, quorum=quorum))
    return services.instance_start(key="chain", variables={"approvers": approvers}, actor=None)


def open_tasks(instance) -> list[tuple[str, str]]:
    return [
        (t.title, *candidates(t))
        for t in HumanTask.objects.filter(instance=instance, status="open").order_by("pk")
    ]


def decide(instance, user, outcome="approve") -> None:
    task = HumanTask.objects.get(
        instance=instance, status="open", candidate_users__overlaps=[user.pk]
    )
    services.task_complete(task_id=task.pk, outcome=outcome, data={}, actor=user)


def result(instance):
    instance.refresh_from_db()
    return instance.status, instance.result


def test_sequential_each_after_the_previous_approved(signers) -> None:
    instance = start("sequential", ["ann", "bob", "cy"])
    assert open_tasks(instance) == [("Signature of ann", "ann")]
    decide(instance, signers["ann"])
    assert open_tasks(instance) == [("Signature of bob", "bob")]
    decide(instance, signers["bob"])
    decide(instance, signers["cy"])
    assert result(instance) == ("completed", "signed")
    entries = instance.variables["sign"]["entries"]
    assert [(e["entry"], e["outcome"], e["by"]) for e in entries] == [
        ("ann", "approve", "ann"), ("bob", "approve", "bob"), ("cy", "approve", "cy"),
    ]  # fmt: skip


def test_a_reject_ends_a_sequential_chain(signers) -> None:
    instance = start("sequential", ["ann", "bob", "cy"])
    decide(instance, signers["ann"])
    decide(instance, signers["bob"], "reject")
    assert result(instance) == ("completed", "refused")
    assert open_tasks(instance) == []  # cy was never asked


def test_parallel_entries_under_a_quorum(signers) -> None:
    instance = start("parallel", ["ann", "bob", "cy"], "quorum: 2")
    assert open_tasks(instance) == [
        ("Signature of ann", "ann"), ("Signature of bob", "bob"), ("Signature of cy", "cy"),
    ]  # fmt: skip
    decide(instance, signers["bob"])
    assert result(instance) == ("waiting", "")
    decide(instance, signers["cy"])
    assert result(instance) == ("completed", "signed")
    # ann's task is no longer needed: withdrawn, not left open.
    assert HumanTask.objects.get(instance=instance, entry=0).status == "cancelled"


def test_no_entries_skips_the_step(signers) -> None:
    instance = start("sequential", [])
    assert result(instance) == ("completed", "signed")
    assert instance.variables["sign"] == {"outcome": "approve", "entries": []}


def test_a_quorum_on_a_sequential_chain_is_refused() -> None:
    from orchestration.definitions.errors import DefinitionInvalid

    with pytest.raises(DefinitionInvalid) as raised:
        publish(CHAIN.format(mode="sequential", quorum="quorum: 2"))
    assert raised.value.messages == [
        "steps.sign.quorum: a sequential chain decides entry by entry;"
        " quorum applies to parallel chains"
    ]


ESCALATING = CHAIN.replace(
    "    outcomes: {{approve: signed, reject: refused}}\n",
    "    outcomes: {{approve: signed, reject: refused}}\n"
    "    escalation:\n"
    "      - {{after: 1d, action: remind}}\n"
    "      - {{after: 2d, action: add, to: {{users: [dora]}}}}\n"
    "      - {{after: 3d, action: decide, outcome: reject}}\n",
)


def test_escalations_act_on_every_open_entry_of_a_parallel_chain(signers, worker, clock) -> None:
    # Found: a `decide` level on a parallel chain made the instance an incident
    # (one task looked up by token, several open); `remind` and `add` too.
    from orchestration.models import ProcessEvent

    dora = make_user("dora")
    publish(ESCALATING.format(mode="parallel", quorum="quorum: 3"))
    instance = services.instance_start(
        key="chain", variables={"approvers": ["ann", "bob", "cy"]}, actor=None
    )
    decide(instance, signers["bob"])
    clock.advance(days=1)
    worker.run_until_idle()
    reminded = ProcessEvent.objects.filter(instance=instance, kind="notification")
    reminders = [e.payload for e in reminded if e.payload.get("reason") == "remind"]
    ann_task, cy_task = (HumanTask.objects.get(instance=instance, entry=n) for n in (0, 2))
    assert sorted((p["task"], p["users"]) for p in reminders) == [
        (ann_task.pk, [signers["ann"].pk]), (cy_task.pk, [signers["cy"].pk]),
    ]  # fmt: skip
    clock.advance(days=1)
    worker.run_until_idle()
    assert open_tasks(instance) == [
        ("Signature of ann", "ann", "dora"), ("Signature of cy", "cy", "dora"),
    ]  # fmt: skip
    clock.advance(days=1)
    worker.run_until_idle()
    assert result(instance) == ("completed", "refused")
    assert open_tasks(instance) == []
    closed = HumanTask.objects.filter(instance=instance).order_by("entry")
    assert [(t.status, t.outcome, t.decided_by_id) for t in closed] == [
        ("completed", "reject", None), ("completed", "approve", signers["bob"].pk),
        ("completed", "reject", None),
    ]  # fmt: skip
    decided = instance.variables["sign"]
    assert (decided["outcome"], decided["decided_by"]) == ("reject", "system")
    assert [(e["entry"], e["by"]) for e in decided["entries"]] == [("bob", "bob")]
    assert dora.pk  # offered both open entries, never decided


def test_an_escalation_decides_a_sequential_chain_where_it_stands(signers, worker, clock) -> None:
    make_user("dora")
    publish(ESCALATING.format(mode="sequential", quorum=""))
    instance = services.instance_start(
        key="chain", variables={"approvers": ["ann", "bob", "cy"]}, actor=None
    )
    decide(instance, signers["ann"])
    clock.advance(days=3)
    worker.run_until_idle()
    assert result(instance) == ("completed", "refused")
    statuses = HumanTask.objects.filter(instance=instance).order_by("entry")
    assert [(t.entry, t.status, t.outcome) for t in statuses] == [
        (0, "completed", "approve"),
        (1, "completed", "reject"),
    ]  # cy was never asked
