"""Due dates and escalation: the approver on vacation no longer stalls the process."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied

from orchestration import services
from orchestration.models import HumanTask, ProcessEvent, Timer
from orchestration.side_effects.mail import waiting
from tests.conftest import make_user
from tests.orchestration.engine import email_backends
from tests.orchestration.engine.conftest import candidates, publish

pytestmark = pytest.mark.django_db

VACATION = """
key: vacation
name: Vacation
start: ask
steps:
  ask:
    type: approval
    title: Approve the desk
    assignees: {{groups: [managers]}}
    due: 2d
    escalation:
{levels}
    outcomes: {{approve: yes, reject: no}}
  yes: {{type: end, result: approved}}
  no: {{type: end, result: rejected}}
"""
LEVELS = """      - {after: 1d, action: remind}
      - {after: 2d, action: reassign, to: {groups: [directors]}}
      - {after: 3d, action: decide, outcome: reject}"""


@pytest.fixture
def org(roles):
    return {
        "manager": make_user("mia", "managers", email="mia@example.com"),
        "director": make_user("dora", "directors", email="dora@example.com"),
        "owner": make_user("owen", "owners", email="owen@example.com"),
    }


def start(levels: str = LEVELS):
    publish(VACATION.format(levels=levels))
    instance = services.instance_start(key="vacation", variables={}, actor=None)
    return instance, HumanTask.objects.get(instance=instance)


def sent() -> list:
    """Email other than the announcement of a new task (tested on its own)."""
    return [m for m in mail.outbox if not m.subject.startswith("New task:")]


def escalations(instance) -> list[tuple[int, str]]:
    """(level, action) of every escalation that fired, in order, from the audit log."""
    fired = []
    for event in ProcessEvent.objects.filter(instance=instance).order_by("pk"):
        for note in event.payload.get("notes", []):
            if note["kind"] == "task.escalated":
                fired.append((note["level"], note["action"]))
    return fired


def test_nobody_decides_so_the_levels_fire_in_order_once(org, worker, clock) -> None:
    instance, task = start()
    assert task.due_at == clock() + timedelta(days=2)
    assert Timer.objects.filter(instance=instance, kind="escalation").count() == 3
    clock.advance(days=1)
    worker.run_until_idle()
    (reminder,) = sent()
    assert reminder.to == ["mia@example.com"] and reminder.subject == "Reminder: Approve the desk"
    clock.advance(days=1)
    worker.run_until_idle()
    # Reassigned: the directors decide now, the manager no longer can.
    assert candidates(task) == ["directors"]
    assert sent()[-1].to == ["dora@example.com"]
    with pytest.raises(PermissionDenied, match="mia is not an assignee"):
        services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=org["manager"])
    clock.advance(days=1)
    worker.run_until_idle()
    task.refresh_from_db()
    instance.refresh_from_db()
    assert (task.status, task.outcome, task.decided_by) == ("completed", "reject", None)
    assert (instance.status, instance.result) == ("completed", "rejected")
    assert instance.variables["ask"]["decided_by"] == "system"
    assert escalations(instance) == [(0, "remind"), (1, "reassign"), (2, "decide")]
    clock.advance(days=10)  # nothing fires again
    worker.run_until_idle()
    assert escalations(instance) == [(0, "remind"), (1, "reassign"), (2, "decide")]
    assert len(sent()) == 2


def test_a_decision_withdraws_the_escalation(org, worker, clock) -> None:
    instance, task = start()
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=org["manager"])
    assert not Timer.objects.filter(instance=instance, status="pending").exists()
    clock.advance(days=5)
    worker.run_until_idle()
    assert sent() == [] and escalations(instance) == []


NO_DUE = """
key: no-due
name: No due
start: ask
steps:
  ask:
    type: approval
    title: Approve the desk
    assignees: {groups: [managers]}
    escalation:
      - {after: 1d, action: notify, to: {groups: [owners]}}
      - {after: 2d, action: decide, outcome: reject}
    outcomes: {approve: sign, reject: no}
  sign:
    type: approval
    title: Sign for the desk
    assignees: {groups: [managers]}
    outcomes: {approve: yes}
  yes: {type: end, result: approved}
  no: {type: end, result: rejected}
"""


def test_a_decision_withdraws_the_escalation_of_a_step_without_due(org, worker, clock) -> None:
    # Escalation levels are timers whether or not the step has a due date.
    publish(NO_DUE)
    instance = services.instance_start(key="no-due", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    assert Timer.objects.filter(instance=instance, kind="escalation").count() == 2
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=org["manager"])
    assert not Timer.objects.filter(instance=instance, status="pending").exists()
    clock.advance(days=5)
    worker.run_until_idle()
    instance.refresh_from_db()
    assert instance.status == "waiting"
    assert [t.step for t in HumanTask.objects.filter(instance=instance, status="open")] == ["sign"]
    assert sent() == [] and escalations(instance) == []


def test_add_keeps_the_original_approvers_and_notify_tells_the_owner(org, worker, clock) -> None:
    instance, task = start(
        "      - {after: 1d, action: add, to: {users: [dora]}}\n"
        "      - {after: 1d, action: notify, to: {groups: [owners]}, message: Still open.}"
    )
    clock.advance(days=1)
    worker.run_until_idle()
    assert sorted(candidates(task)) == ["dora", "managers"]
    assert sorted(m.to[0] for m in sent()) == ["dora@example.com", "owen@example.com"]
    note = next(m for m in sent() if m.to == ["owen@example.com"])
    assert note.subject == "For your information: Approve the desk" and "Still open." in note.body
    services.task_complete(task_id=task.pk, outcome="approve", data={}, actor=org["manager"])
    instance.refresh_from_db()
    assert instance.result == "approved"


def test_notifications_wait_for_a_working_mail_server(org, worker, clock, settings) -> None:
    settings.EMAIL_BACKEND = "tests.orchestration.engine.email_backends.FlakyBackend"
    email_backends.DOWN["down"] = True
    try:
        start()
        clock.advance(days=1)
        worker.run_until_idle()
        # The announcement of the task and the reminder, both still queued.
        assert waiting().count() == 2 and mail.outbox == []
        email_backends.DOWN["down"] = False
        clock.advance(seconds=1)  # the mail sweep runs at most once a second
        worker.run_until_idle()
        assert not waiting().exists()
        assert [m.to for m in sent()] == [["mia@example.com"]]
        assert len(mail.outbox) == 2
    finally:
        email_backends.DOWN["down"] = False


def test_with_a_calendar_due_and_escalation_count_working_time(org, worker, clock) -> None:
    # The test clock is a Monday 09:00 UTC (some year): no holidays here, so the
    # answer does not depend on the date; the weekend is crossed on purpose.
    publish(
        VACATION.format(levels="      - {after: 5d, action: decide, outcome: reject}").replace(
            "start: ask",
            'start: ask\ncalendar: {timezone: UTC, hours: "09:00-17:00"}',
        )
    )
    instance = services.instance_start(key="vacation", variables={}, actor=None)
    task = HumanTask.objects.get(instance=instance)
    monday = clock()
    assert task.due_at == monday + timedelta(days=2)  # Wednesday 09:00
    timer = Timer.objects.get(instance=instance, kind="escalation")
    assert timer.due_at == monday + timedelta(days=7)  # 5 working days: next Monday
    clock.advance(days=5)  # Saturday: nothing yet
    worker.run_until_idle()
    task.refresh_from_db()
    assert task.status == "open"
    clock.advance(days=2)
    worker.run_until_idle()
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("completed", "reject")


def test_without_its_own_calendar_a_definition_counts_in_the_sites(
    org, worker, clock, settings
) -> None:
    settings.ORCHESTRATION_CALENDAR = {"timezone": "UTC", "days": ["mon", "tue"]}
    _, task = start("      - {after: 3d, action: remind}")
    monday = clock()
    assert task.due_at == monday + timedelta(days=7)  # Monday, Tuesday, next Monday
    timer = Timer.objects.get(instance=task.instance, kind="escalation")
    assert timer.due_at == monday + timedelta(days=8)
    publish(
        VACATION.format(levels="      - {after: 3d, action: remind}").replace(
            "start: ask", "start: ask\ncalendar: {timezone: UTC, days: [mon, tue, wed, thu, fri]}"
        )
    )
    own = HumanTask.objects.get(
        instance=services.instance_start(key="vacation", variables={}, actor=None)
    )
    assert own.due_at == monday + timedelta(days=2)  # its own calendar wins


def test_assignees_and_delegates_are_told_by_email(org, worker, clock) -> None:
    _, task = start("      - {after: 9d, action: remind}")
    worker.run_until_idle()
    (announced,) = mail.outbox
    assert (announced.subject, announced.to) == ("New task: Approve the desk", ["mia@example.com"])
    html, kind = announced.alternatives[0]
    assert kind == "text/html" and "<p>Approve the desk</p>" in html
    services.task_delegate(task_id=task.pk, actor=org["manager"], to=org["director"], note="<b>")
    clock.advance(seconds=1)  # the mail sweep runs at most once a second
    worker.run_until_idle()
    delegated = mail.outbox[-1]
    assert (delegated.subject, delegated.to) == ("Delegated to you: Approve the desk",
                                                 ["dora@example.com"])  # fmt: skip
    assert "<b>" in delegated.body and "&lt;b&gt;" in delegated.alternatives[0][0]


@pytest.mark.parametrize(
    ("level", "message"),
    [
        ("{after: 1d, action: remind, to: {users: [dora]}}",
         "steps.ask.escalation[0].to: a remind level sends to nobody else"),
        ("{after: 1d, action: decide, outcome: reject, to: {users: [dora]}}",
         "steps.ask.escalation[0].to: a decide level sends to nobody else"),
        ("{after: 1d, action: remind, outcome: reject}",
         "steps.ask.escalation[0].outcome: only a decide level has an outcome"),
        ("{after: 1d, action: decide, outcome: reject, message: hi}",
         "steps.ask.escalation[0].message: a decide level sends no email"),
    ],
)  # fmt: skip
def test_escalation_fields_that_would_do_nothing_are_refused(level, message) -> None:
    from orchestration.definitions.errors import DefinitionInvalid

    with pytest.raises(DefinitionInvalid) as raised:
        publish(VACATION.format(levels=f"      - {level}"))
    assert raised.value.messages == [message]


def test_an_escalation_message_is_a_template(org, worker, clock) -> None:
    publish(
        VACATION.format(
            levels='      - {after: 1d, action: add, to: {users: [dora]}, message: "For {{ who }}"}'
        ).replace("start: ask", "variables: {who: {type: string}}\nstart: ask")
    )
    services.instance_start(key="vacation", variables={"who": "Mia"}, actor=None)
    clock.advance(days=1)
    worker.run_until_idle()
    (added,) = [m for m in mail.outbox if m.subject.startswith("Escalated")]
    assert added.to == ["dora@example.com"] and "For Mia" in added.body


def test_each_reader_sees_the_due_time_in_their_own_time_zone(org, worker, clock) -> None:
    from zoneinfo import ZoneInfo

    make_user("kai", "managers", email="kai@example.com", timezone="America/New_York")
    org["manager"].timezone = "Asia/Tokyo"
    org["manager"].save()
    _, task = start("      - {after: 9d, action: notify, to: {groups: [owners, directors]}}")
    worker.run_until_idle()
    body = {m.to[0]: m.body for m in mail.outbox}
    # Due two days after Monday 09:00 UTC: Wednesday 18:00 in Tokyo (no summer time there).
    assert "Due: Wed " in body["mia@example.com"]
    assert "18:00 JST (Asia/Tokyo)." in body["mia@example.com"]
    new_york = task.due_at.astimezone(ZoneInfo("America/New_York"))
    assert f"{new_york:%H:%M} {new_york.tzname()} (America/New_York)." in body["kai@example.com"]
    mail.outbox.clear()
    dora = org["director"]
    dora.timezone = "Europe/Berlin"
    dora.save()
    clock.advance(days=9)
    worker.run_until_idle()
    told = sorted((m.to, m.body.split("Due: ")[1].split(".")[0]) for m in sent())
    berlin = task.due_at.astimezone(ZoneInfo("Europe/Berlin"))
    assert [to for to, _ in told] == [["dora@example.com"], ["owen@example.com"]]
    assert told[0][1].endswith(f"{berlin:%H:%M} {berlin.tzname()} (Europe/Berlin)")
    assert told[1][1].endswith("09:00 UTC (UTC)")


def test_a_time_zone_must_be_one_the_system_knows(org) -> None:
    from django.core.exceptions import ValidationError

    from accounts.timezones import local_text, zone

    org["manager"].timezone = "Mars/Olympus"
    with pytest.raises(ValidationError, match="'Mars/Olympus' is not a time zone"):
        org["manager"].full_clean()
    assert zone("Mars/Olympus") == zone("") == zone(None)  # rows from before: the site's zone
    assert local_text(org["manager"].date_joined, "Mars/Olympus").endswith("(UTC)")


def test_an_escalation_decides_its_outcome_whatever_the_quorum(org, worker, clock) -> None:
    # Found: counted as one vote of `quorum: 2`, the approve it decided lost
    # (out of reach with one vote) and the task closed as rejected.
    publish(VACATION.format(levels="      - {after: 1d, action: decide, outcome: approve}")
            .replace("    due: 2d\n", "    due: 2d\n    quorum: 2\n"))  # fmt: skip
    instance = services.instance_start(key="vacation", variables={}, actor=None)
    clock.advance(days=1)
    worker.run_until_idle()
    instance.refresh_from_db()
    assert (instance.status, instance.result) == ("completed", "approved")
