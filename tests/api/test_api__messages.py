"""Messages to one instance and by business key: delivered, refused, kept for
a later wait, or refused as ambiguous."""

from __future__ import annotations

import pytest

from orchestration import services
from orchestration.models import BufferedMessage, ProcessEvent, ProcessInstance
from tests.api.conftest import api, key_for, post
from tests.api.test_api__foundation import assert_problem

pytestmark = pytest.mark.django_db

PAYMENT = """
key: payment
name: Payment
start: wait_paid
steps:
  wait_paid: {type: wait, message: paid, timeout: 1d, on_timeout: unpaid, next: done}
  done: {type: end, result: paid}
  unpaid: {type: end, result: unpaid}
"""


@pytest.fixture
def payment(run):
    run.publish(PAYMENT)
    return run


def waiting(run, business_key: str = "ORDER-1") -> ProcessInstance:
    instance = services.instance_start(
        key="payment", variables={}, actor=None, business_key=business_key
    )
    run.run()
    return instance


def test_a_message_reaches_the_one_instance_waiting_for_it(payment) -> None:
    instance = waiting(payment)
    otto = api(key_for("otto"))
    sent = post(
        otto,
        "/api/v1/messages",
        {"name": "paid", "business_key": "ORDER-1", "payload": {"amount": 12}},
    )
    assert sent.status_code == 200, sent.content
    assert sent.json() == {"delivered": [instance.pk], "buffered": None, "expires_at": None}
    payment.run()
    instance.refresh_from_db()
    assert instance.status == "completed" and instance.result == "paid"
    assert instance.variables["wait_paid"] == {"amount": 12}


def test_to_one_instance_by_id(payment) -> None:
    instance = waiting(payment)
    sent = post(api(key_for("otto")), f"/api/v1/instances/{instance.pk}/messages", {"name": "paid"})
    assert sent.status_code == 200 and sent.json()["id"] == instance.pk
    assert_problem(
        post(
            api(key_for("otto", name="o2")),
            f"/api/v1/instances/{instance.pk}/messages",
            {"name": "paid"},
        ),
        409,
        "finished",
    )


def test_nobody_waiting_is_404_unless_the_message_may_wait(payment) -> None:
    otto = api(key_for("otto"))
    assert_problem(
        post(otto, "/api/v1/messages", {"name": "paid", "business_key": "ORDER-9"}), 404, "no_match"
    )
    kept = post(
        otto,
        "/api/v1/messages",
        {"name": "paid", "business_key": "ORDER-9", "payload": {"n": 1}, "ttl": 3600},
    )
    assert kept.status_code == 202 and kept.json()["delivered"] == []
    assert ProcessEvent.objects.filter(kind="message.buffered").count() == 1
    # An instance for that business key that waits for it takes it.
    instance = waiting(payment, "ORDER-9")
    payment.run()
    instance.refresh_from_db()
    assert instance.status == "completed" and instance.variables["wait_paid"] == {"n": 1}
    assert BufferedMessage.objects.get().consumed_by_id == instance.pk
    # Taken once: the next instance with the same key waits.
    other = waiting(payment, "ORDER-9")
    other.refresh_from_db()
    assert other.status == "waiting"


def test_a_kept_message_expires(payment) -> None:
    post(
        api(key_for("otto")),
        "/api/v1/messages",
        {"name": "paid", "business_key": "ORDER-5", "ttl": 60},
    )
    payment.advance(minutes=2)
    instance = waiting(payment, "ORDER-5")
    instance.refresh_from_db()
    assert instance.status == "waiting"
    assert BufferedMessage.objects.get().consumed_at is None


def test_several_waiting_is_409_unless_all(payment) -> None:
    first, second = waiting(payment), waiting(payment)
    otto = api(key_for("otto"))
    body = assert_problem(
        post(otto, "/api/v1/messages", {"name": "paid", "business_key": "ORDER-1"}),
        409,
        "ambiguous",
    )
    assert "all: true" in body["detail"]
    sent = post(otto, "/api/v1/messages", {"name": "paid", "business_key": "ORDER-1", "all": True})
    assert sent.status_code == 200 and sent.json()["delivered"] == [first.pk, second.pk]


def test_bad_messages_and_hidden_instances(payment) -> None:
    waiting(payment)
    otto = api(key_for("otto"))
    body = assert_problem(
        post(
            otto,
            "/api/v1/messages",
            {"name": "paid", "business_key": "ORDER-1", "payload": [], "ttl": 0},
        ),
        400,
        "invalid_input",
    )
    assert set(body["errors"]) == {"payload", "ttl"}
    # A key for other definitions does not reach this instance.
    scoped = api(key_for("otto", definitions=["purchase-approval"], name="purchases"))
    assert_problem(
        post(scoped, "/api/v1/messages", {"name": "paid", "business_key": "ORDER-1"}),
        404,
        "no_match",
    )
    # Sending messages is an operator's action.
    assert_problem(
        post(api(key_for("bob")), "/api/v1/messages", {"name": "paid", "business_key": "ORDER-1"}),
        403,
        "permission_denied",
    )
