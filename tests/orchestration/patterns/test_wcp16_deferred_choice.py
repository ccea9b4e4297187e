"""WCP16, deferred choice: the environment decides the path, by whichever of
several events comes first (a `wait` with `first_of`); the others are
withdrawn. Driven through the real services (orchestration.testing)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from orchestration import services
from orchestration.exceptions import InstanceConflict
from orchestration.models import BufferedMessage, ProcessEvent, Timer
from orchestration.testing import ProcessTest
from tests.orchestration.patterns.conftest import refused

pytestmark = pytest.mark.django_db

CONTRACT = """
key: contract
name: Contract
start: sent
steps:
  sent:
    type: wait
    first_of:
      - {message: signed, next: countersign}
      - {message: cancelled, next: withdrawn}
      - {timer: 10d, next: expired}
  countersign: {type: end, result: signed}
  withdrawn: {type: end, result: withdrawn}
  expired: {type: end, result: expired}
"""


@pytest.fixture
def run(db) -> Iterator[ProcessTest]:
    with ProcessTest() as running:
        running.publish(CONTRACT)
        yield running


def timers(instance) -> list[str]:
    return list(Timer.objects.filter(instance=instance).values_list("status", flat=True))


def test_wcp16_deferred_choice_the_first_message_decides_the_path(run) -> None:
    instance = run.start("contract")
    assert (instance.status, timers(instance)) == ("waiting", ["pending"])
    instance = run.message(instance, "cancelled", {"why": "budget cut"})
    assert (instance.status, instance.result) == ("completed", "withdrawn")
    assert instance.variables["sent"] == {"why": "budget cut", "first": "cancelled", "branch": 1}
    assert timers(instance) == ["cancelled"]  # the 10-day branch is withdrawn
    notes = [n for e in ProcessEvent.objects.filter(instance=instance)
             for n in e.payload.get("notes", []) if n.get("kind") == "wait.first"]  # fmt: skip
    assert [(n["step"], n["first"], n["branch"]) for n in notes] == [("sent", "cancelled", 1)]
    # The other message's branch was withdrawn too: nothing waits for it now.
    with pytest.raises(InstanceConflict):
        services.instance_send_message(
            instance_id=instance.pk, name="signed", payload={}, actor=None
        )


def test_wcp16_deferred_choice_the_timer_wins_when_nothing_arrives(run) -> None:
    instance = run.start("contract")
    run.advance(days=9, hours=23)
    instance.refresh_from_db()
    assert instance.status == "waiting"  # not yet
    run.advance(hours=1)
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "expired")
    assert instance.variables["sent"] == {"first": "timer", "branch": 2}


def test_wcp16_deferred_choice_of_messages_kept_before_the_wait_the_oldest_wins(run) -> None:
    for name in ("cancelled", "signed"):
        services.message_correlate(
            name=name, business_key="C-7", payload={"n": name}, actor=None,
            ttl=timedelta(hours=1), now=run.now,
        )  # fmt: skip
    instance = services.instance_start(
        key="contract", variables={}, actor=None, business_key="C-7", now=run.now
    )
    run.run()
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "withdrawn")
    kept = dict(BufferedMessage.objects.values_list("name", "consumed_by"))
    assert kept == {"cancelled": instance.pk, "signed": None}  # one taken, the other kept


@pytest.mark.parametrize(
    ("branches", "error"),
    [
        ("[{message: a, next: e}, {message: a, next: e}]",
         "steps.w.first_of[1].message: 'a' is already an event of this step"),
        ("[{message: a, timer: 1d, next: e}, {timer: 2d, next: e}]",
         "steps.w.first_of[0]: needs exactly one of timer, until, message"),
        ("[{message: a, next: e}, {until: 'nope(', next: e}]",
         "steps.w.first_of[1].until: "),
        ("[{message: a, next: e}, {timer: 1d, next: nowhere}]",
         "steps.w.first_of[1].next: "),
    ],
)  # fmt: skip
def test_a_first_of_wait_is_checked_branch_by_branch(db, branches: str, error: str) -> None:
    source = (
        f"key: w\nname: W\nstart: w\nsteps:\n  w: {{type: wait, first_of: {branches}}}\n"
        "  e: {type: end}\n"
    )
    messages = refused(source)
    assert any(m.startswith(error) for m in messages), messages


def test_a_first_of_wait_has_no_next_of_its_own(db) -> None:
    source = (
        "key: w\nname: W\nstart: w\nsteps:\n"
        "  w: {type: wait, next: e, first_of: [{message: a, next: e}, {timer: 1d, next: e}]}\n"
        "  e: {type: end}\n"
    )
    assert refused(source) == [
        "steps.w: a first_of wait takes each event and next in its branches, not next"
    ]


def test_the_diagram_draws_each_branch_with_its_event() -> None:
    import yaml

    from orchestration.definitions.diagram import render_svg

    svg = render_svg(yaml.safe_load(CONTRACT))
    assert all(label in svg for label in ("message signed", "message cancelled", "timer 10d"))
