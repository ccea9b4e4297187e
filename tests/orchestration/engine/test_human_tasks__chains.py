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
