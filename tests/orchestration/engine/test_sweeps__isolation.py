"""Every sweep isolates its rows: a row that raises is recorded and tried again
later (or given up), the rows behind it go on, and the engine keeps moving."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Absence
from orchestration import services, sweeps
from orchestration.audit import chain as audit_chain
from orchestration.models import HumanTask, ProcessEvent, ProcessInstance, SweepFailure
from orchestration.models import WebhookDelivery as Delivery
from orchestration.side_effects import mail as notifications
from orchestration.side_effects import webhooks
from tests.conftest import make_user
from tests.orchestration.engine import email_backends
from tests.orchestration.engine.conftest import ONE_STEP, publish
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = pytest.mark.django_db


@pytest.fixture
def managers(roles):
    make_user("alice", "requester", "requesters", email="alice@example.com")
    return [make_user(n, "managers", email=f"{n}@example.com") for n in ("mia", "max")]


def purchase(item: str, requester: str = "alice") -> ProcessInstance:
    from accounts.models import User

    actor = User.objects.get(username=requester)
    return services.instance_start(
        key="purchase-approval", variables={"item": item, "amount": 5000}, actor=actor
    )


def settle(worker, clock) -> None:
    """Run what is due, then the people's side of the next second (mail, sealing...)."""
    worker.run_until_idle()
    clock.advance(seconds=1)
    worker.run_until_idle()


def healthy(worker, clock, count: int = 3) -> None:
    """Instances of a one-step process started now complete in the next rounds."""
    started = [services.instance_start(key="one", variables={}, actor=None) for _ in range(count)]
    settle(worker, clock)
    for instance in started:
        instance.refresh_from_db()
        assert (instance.status, instance.result) == ("completed", "ok")


def failures(sweep: str) -> list[tuple[int, int, bool]]:
    return list(
        SweepFailure.objects.filter(sweep=sweep).values_list("row_id", "attempts", "given_up")
    )


def test_a_line_break_in_a_title_reaches_no_mail_header(managers, worker, clock) -> None:
    # Found: this stopped every engine loop (BadHeaderError in the mail sweep).
    publish(PURCHASE_SOURCE)
    publish(ONE_STEP)
    instance = purchase("desk\nX-Injected: yes")
    settle(worker, clock)
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == ["New task: Approve desk X-Injected: yes for 5000"] * 2
    for message in mail.outbox:
        assert "X-Injected" not in message.message().keys()  # noqa: SIM118 - a Message
    assert (
        HumanTask.objects.get(instance=instance).title == "Approve desk\nX-Injected: yes for 5000"
    )
    healthy(worker, clock)


def test_mail_a_row_that_raises_fails_alone_is_retried_then_given_up(
    managers, worker, clock, monkeypatch
) -> None:
    publish(PURCHASE_SOURCE)
    publish(ONE_STEP)
    made = notifications._messages

    def poisoned(row, addresses, tasks):
        if "poison" in row.payload.get("title", ""):
            raise ValueError("cannot make this mail")
        return made(row, addresses, tasks)

    monkeypatch.setattr(notifications, "_messages", poisoned)
    purchase("poison")
    purchase("chair")
    settle(worker, clock)
    assert sorted(m.subject for m in mail.outbox) == ["New task: Approve chair for 5000"] * 2
    (row,) = notifications.waiting()
    assert failures(notifications.MAIL) == [(row.pk, 1, False)]
    failure = SweepFailure.objects.get(row_id=row.pk)
    assert failure.error == "ValueError: cannot make this mail"
    assert failure.retry_at == clock() + timedelta(seconds=60)
    healthy(worker, clock)  # the loop goes on; the row waits for its retry
    for wait in sweeps.BACKOFF:
        clock.advance(seconds=wait)
        settle(worker, clock)
    assert failures(notifications.MAIL) == [(row.pk, sweeps.MAX_ATTEMPTS, True)]
    assert not notifications.waiting().exists()  # given up: out of the outbox
    clock.advance(days=1)
    settle(worker, clock)
    assert SweepFailure.objects.get(row_id=row.pk).attempts == sweeps.MAX_ATTEMPTS


def mail_breaks_until_mended(monkeypatch) -> dict[str, bool]:
    """Every mail fails to be made while {"on": True}; set it False to mend."""
    made, broken = notifications._messages, {"on": True}

    def flaky(row, addresses, tasks):
        if broken["on"]:
            raise ValueError("not yet")
        return made(row, addresses, tasks)

    monkeypatch.setattr(notifications, "_messages", flaky)
    return broken


def test_mail_a_row_handled_on_retry_forgets_its_failure(
    managers, worker, clock, monkeypatch
) -> None:
    publish(PURCHASE_SOURCE)
    broken = mail_breaks_until_mended(monkeypatch)
    purchase("desk")
    settle(worker, clock)
    assert len(failures(notifications.MAIL)) == 1 and mail.outbox == []
    broken["on"] = False
    clock.advance(seconds=61)
    settle(worker, clock)
    assert len(mail.outbox) == 2 and failures(notifications.MAIL) == []


def test_mail_rows_being_retried_never_push_new_ones_past_the_cursor(
    managers, clock, monkeypatch
) -> None:
    from orchestration.engine.worker import Worker

    publish(PURCHASE_SOURCE)
    engine = Worker("engine only", clock=clock)  # no side sweeps: this test runs them
    broken = mail_breaks_until_mended(monkeypatch)
    purchase("desk")
    purchase("chair")
    engine.run_until_idle()
    audit_chain.seal_pending()
    assert notifications.send_pending(limit=2) == 2 and len(failures(notifications.MAIL)) == 2
    broken["on"] = False
    purchase("lamp")
    engine.run_until_idle()
    audit_chain.seal_pending()
    clock.advance(seconds=61)
    # The two retries due fill the batch: the new row waits, it is not passed.
    assert notifications.send_pending(limit=2) == 2
    assert [r.payload["title"] for r in notifications.waiting()] == ["Approve lamp for 5000"]
    assert notifications.send_pending(limit=2) == 1
    assert not notifications.waiting().exists() and len(mail.outbox) == 6
    engine.close()


def test_mail_refused_for_one_recipient_does_not_hold_the_others(
    managers, worker, settings, clock
) -> None:
    settings.EMAIL_BACKEND = "tests.orchestration.engine.email_backends.FlakyBackend"
    email_backends.REFUSE.add("mia@example.com")
    publish(PURCHASE_SOURCE)
    purchase("desk")
    settle(worker, clock)
    assert [m.to for m in mail.outbox] == [["max@example.com"]]
    (failure,) = SweepFailure.objects.filter(sweep=notifications.MAIL)
    assert "SMTPRecipientsRefused" in failure.error and failure.given_up
    assert not notifications.waiting().exists()


def test_mail_a_server_that_is_down_fails_no_row(managers, worker, settings, clock) -> None:
    settings.EMAIL_BACKEND = "tests.orchestration.engine.email_backends.FlakyBackend"
    email_backends.DOWN["down"] = True
    publish(PURCHASE_SOURCE)
    purchase("desk")
    settle(worker, clock)
    assert mail.outbox == [] and not SweepFailure.objects.exists()
    email_backends.DOWN["down"] = False
    clock.advance(seconds=1)
    settle(worker, clock)
    assert len(mail.outbox) == 2


def test_sealing_a_row_that_raises_is_left_unsealed_and_the_rest_sealed(
    worker, monkeypatch, clock
) -> None:
    publish(ONE_STEP)
    rows = [ProcessEvent.objects.create(kind="test.event", reason=str(n)) for n in range(4)]
    poison = rows[1]
    real = audit_chain.digest

    def digest(row):
        if row["id"] == poison.pk:
            raise TypeError("cannot digest")
        return real(row)

    monkeypatch.setattr(audit_chain, "digest", digest)
    healthy(worker, clock)
    verdict = audit_chain.verify()
    assert verdict.ok and verdict.unsealed == 1
    assert failures(audit_chain.SEALING) == [(poison.pk, 1, True)]  # it would fail again
    assert audit_chain.seals_of([poison.pk]) == {}
    assert set(audit_chain.seals_of(r.pk for r in rows)) == {rows[0].pk, rows[2].pk, rows[3].pk}


def test_fan_out_a_row_that_raises_makes_no_delivery_and_the_rest_do(
    worker, monkeypatch, settings, clock
) -> None:
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = ["127.0.0.1:9"]
    webhooks.subscription_create(actor=None, name="erp", url="http://127.0.0.1:9/hooks",
                                 events=["instance.started"])  # fmt: skip
    publish(ONE_STEP)
    first, second = (services.instance_start(key="one", variables={}, actor=None)
                     for _ in range(2))  # fmt: skip
    real = webhooks.events_of

    def events_of(row):
        if row.instance_id == first.pk and row.kind == "instance.started":
            raise KeyError("no such field")
        return real(row)

    monkeypatch.setattr(webhooks, "events_of", events_of)
    monkeypatch.setattr(webhooks, "start_sender", lambda: False)
    healthy(worker, clock)
    assert sorted(Delivery.objects.values_list("body__instance__id", flat=True)) == [
        second.pk, *sorted(i.pk for i in ProcessInstance.objects.filter(pk__gt=second.pk)),
    ]  # fmt: skip
    (failure,) = SweepFailure.objects.filter(sweep=webhooks.FAN_OUT)
    assert failure.given_up and failure.error == "KeyError: 'no such field'"


def test_routing_an_absence_that_raises_does_not_hold_the_others(
    roles, worker, clock, monkeypatch
) -> None:
    from orchestration.services import tasks as task_services

    ann, bob, cy = (make_user(n) for n in ("ann", "bob", "cy"))
    publish(ONE_STEP)
    start = clock() - timedelta(minutes=1)
    end = start + timedelta(days=3)
    broken = Absence.objects.create(user=ann, starts_at=start, ends_at=end, delegate=cy)
    fine = Absence.objects.create(user=bob, starts_at=start, ends_at=end, delegate=cy)
    real = task_services._route_tasks_of

    def route(user_id, now):
        if user_id == ann.pk:
            raise RuntimeError("directory down")
        return real(user_id, now)

    monkeypatch.setattr(task_services, "_route_tasks_of", route)
    healthy(worker, clock)
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert fine.routed_at is not None and broken.routed_at is None
    assert failures(task_services.ROUTING) == [(broken.pk, 1, False)]


def test_housekeeping_a_part_that_raises_does_not_stop_the_others(db, monkeypatch) -> None:
    from api import jobs

    def broken() -> int:
        raise RuntimeError("table locked")

    monkeypatch.setitem(jobs.PARTS, "idempotency_keys", broken)
    assert jobs.housekeeping() == {"idempotency_keys": 0, "buffered_messages": 0, "api_calls": 0}
    (failure,) = SweepFailure.objects.filter(sweep="api housekeeping")
    assert failure.error == "RuntimeError: table locked"


def test_a_side_sweep_that_raises_outright_does_not_stop_the_engine(
    worker, monkeypatch, clock
) -> None:
    def broken(**kwargs) -> int:
        raise RuntimeError("a bug in the sweep itself")

    for sweep in ("send_pending",):
        monkeypatch.setattr(notifications, sweep, broken)
    monkeypatch.setattr(audit_chain, "seal_pending", broken)
    monkeypatch.setattr(webhooks, "fan_out", broken)
    monkeypatch.setattr(services, "absences_route_started", broken)
    publish(ONE_STEP)
    healthy(worker, clock)


def test_operators_read_the_failures_in_the_admin(roles, client, clock) -> None:
    operator = make_user("opal", "operator", is_staff=True)
    approver = make_user("amos", "approver", is_staff=True)
    sweeps.give_up("mail", 41, ValueError("no such mailbox"), clock())
    client.force_login(operator)
    page = client.get("/admin/orchestration/sweepfailure/")
    assert page.status_code == 200 and "no such mailbox" in page.content.decode()
    client.force_login(approver)
    assert client.get("/admin/orchestration/sweepfailure/").status_code == 403


def test_sending_a_delivery_whose_result_cannot_be_recorded_does_not_stop_the_others(
    db, monkeypatch, settings
) -> None:
    from orchestration.models import WebhookSubscription
    from tests.orchestration.test_webhooks__sender import Target

    target = Target()
    try:
        settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{target.port}"]
        subscription = WebhookSubscription.objects.create(
            name="erp", url=f"http://127.0.0.1:{target.port}/ok", events=[], secret="s"
        )
        now = timezone.now()
        made = [Delivery.objects.create(subscription=subscription, event_type="x", body={"n": n},
                                        next_attempt_at=now, created_at=now)
                for n in range(3)]  # fmt: skip
        real = webhooks._record

        def record(delivery, result, moment):
            if delivery.pk == made[1].pk:
                raise ValueError("cannot write this one")
            return real(delivery, result, moment)

        monkeypatch.setattr(webhooks, "_record", record)
        webhooks.deliver_due(seconds=2)
    finally:
        target.close()
    statuses = dict(Delivery.objects.values_list("pk", "status"))
    assert statuses == {made[0].pk: "delivered", made[1].pk: "sending", made[2].pk: "delivered"}
    assert failures(webhooks.SENDING) == [(made[1].pk, 1, False)]
