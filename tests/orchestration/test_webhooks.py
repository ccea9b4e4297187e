"""Webhooks: events become signed deliveries to a receiver on localhost,
retried with backoff for a day, each attempt logged, replayable."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestration.demo import seed
from orchestration.exceptions import InvalidInput
from orchestration.models import ProcessEvent, WebhookAttempt, WebhookDelivery
from orchestration.side_effects import webhooks
from orchestration.testing import ProcessTest
from tests.orchestration.factories import PURCHASE_SOURCE
from tests.scrape import scrape, value

pytestmark = pytest.mark.django_db


class Receiver:
    """A webhook endpoint on 127.0.0.1 that checks signatures like a
    subscriber would, and answers with the statuses it is told to."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.answers: list[int] = []
        self.secret = ""
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(
                    {
                        "headers": dict(self.headers),
                        "raw": raw,
                        "valid": outer.verify(self.headers, raw),
                    }
                )
                self.send_response(outer.answers.pop(0) if outer.answers else 204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def verify(self, headers, raw: bytes) -> bool:
        """What docs/api.md tells subscribers to do."""
        parts = dict(p.split("=", 1) for p in headers["X-Webhook-Signature"].split(","))
        expected = hmac.new(
            self.secret.encode(), f"{parts['t']}.".encode() + raw, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(expected, parts["v1"])

    def events(self) -> list[str]:
        return [json.loads(r["raw"])["type"] for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    got = Receiver()
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{got.port}"]
    yield got
    got.close()


@pytest.fixture
def run(db) -> Iterator[ProcessTest]:
    seed.seed_users()
    with ProcessTest() as running:
        running.publish(PURCHASE_SOURCE)
        yield running


def subscribe(receiver: Receiver, events: list[str]) -> None:
    _, receiver.secret = webhooks.subscription_create(
        actor=None, name="erp", url=f"http://127.0.0.1:{receiver.port}/hooks", events=events
    )


def test_events_arrive_signed(run, receiver) -> None:
    subscribe(
        receiver, ["instance.started", "task.created", "task.completed", "instance.completed"]
    )
    instance = run.start("purchase-approval", {"item": "desk", "amount": 5000}, as_="alice")
    (task,) = run.open_tasks(instance)
    run.decide(task, "approve", as_="bob")
    run.advance(seconds=1)  # the next sweep seals, fans out and sends
    # Sent in parallel: no order is promised (bodies carry occurred_at and id).
    assert sorted(receiver.events()) == [
        "instance.completed",
        "instance.started",
        "task.completed",
        "task.created",
    ]
    assert all(r["valid"] for r in receiver.received)
    by_type = {json.loads(r["raw"])["type"]: r for r in receiver.received}
    started = json.loads(by_type["instance.started"]["raw"])
    assert started["instance"]["id"] == instance.pk
    assert started["instance"]["definition"] == "purchase-approval"
    assert json.loads(by_type["task.created"]["raw"])["data"]["task"] == task.pk
    decided = json.loads(by_type["task.completed"]["raw"])["data"]
    assert decided == {"task": task.pk, "step": "manager_approval", "outcome": "approve"}
    assert by_type["instance.started"]["headers"]["X-Webhook-Event"] == "instance.started"
    assert WebhookDelivery.objects.filter(status="delivered").count() == 4
    assert WebhookAttempt.objects.count() == 4


def test_a_tampered_body_fails_the_check(receiver) -> None:
    receiver.secret = "s3cret"
    signature = webhooks.sign("s3cret", 1_700_000_000, b'{"a":1}')
    assert receiver.verify({"X-Webhook-Signature": signature}, b'{"a":1}')
    assert not receiver.verify({"X-Webhook-Signature": signature}, b'{"a":2}')


def test_failures_are_retried_with_backoff_and_logged(run, receiver, client, settings) -> None:
    subscribe(receiver, ["instance.started"])
    receiver.answers = [500, 503]
    run.start("purchase-approval", {"item": "desk", "amount": 5000}, as_="alice")
    run.advance(seconds=1)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error == "HTTP 500"
    run.advance(seconds=5)
    assert WebhookDelivery.objects.get().attempts == 1  # backoff: 10 s
    run.advance(seconds=6)
    assert WebhookDelivery.objects.get().attempts == 2  # 503; next after 30 s
    run.advance(seconds=31)
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert [a.status_code for a in WebhookAttempt.objects.order_by("pk")] == [500, 503, 204]
    assert len({json.loads(r["raw"])["id"] for r in receiver.received}) == 1  # same body
    samples = scrape(client, settings)
    assert value(samples, "orchestration_webhook_deliveries_total", result="failed") == 2
    assert value(samples, "orchestration_webhook_deliveries_total", result="delivered") == 1


def test_after_a_day_of_failures_it_gives_up_and_an_operator_replays(
    run, receiver, client, settings
) -> None:
    subscribe(receiver, ["instance.started"])
    receiver.answers = [500] * 20
    run.start("purchase-approval", {"item": "desk", "amount": 5000}, as_="alice")
    for _ in range(30):
        run.advance(hours=1)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "failed" and 8 <= delivery.attempts <= 14
    receiver.answers = []
    from accounts.models import User

    again = webhooks.delivery_replay(
        actor=User.objects.get(username="otto"), delivery_id=delivery.pk
    )
    run.advance(seconds=1)
    again.refresh_from_db()
    assert again.status == "delivered" and again.replay_of_id == delivery.pk
    samples = scrape(client, settings)
    assert value(samples, "orchestration_webhook_deliveries_total", result="gave_up") == 1
    failed = value(samples, "orchestration_webhook_deliveries_total", result="failed")
    assert failed == delivery.attempts - 1
    assert ProcessEvent.objects.filter(kind="webhook.replayed", actor__username="otto").exists()
    with pytest.raises(Exception, match="operator"):
        webhooks.delivery_replay(actor=User.objects.get(username="bob"), delivery_id=delivery.pk)


def test_targets_obey_the_allowlist(run, receiver, settings) -> None:
    with pytest.raises(InvalidInput) as refused:
        webhooks.subscription_create(
            actor=None, name="x", url="http://evil.example.com/h", events=["instance.started"]
        )
    assert set(refused.value.errors) == {"url"}
    subscribe(receiver, ["instance.started"])
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = []  # removed after subscribing
    run.start("purchase-approval", {"item": "desk", "amount": 5000}, as_="alice")
    run.advance(seconds=1)
    assert receiver.received == []
    assert "ORCHESTRATION_HTTP_ALLOWED_HOSTS" in WebhookDelivery.objects.get().last_error


def test_no_subscription_no_deliveries(run) -> None:
    run.start("purchase-approval", {"item": "desk", "amount": 5000}, as_="alice")
    run.advance(seconds=1)
    assert not WebhookDelivery.objects.exists()


def test_the_admin_makes_a_subscription_and_shows_its_secret_once(run, receiver, client) -> None:
    import re

    from accounts.models import User
    from orchestration.models import WebhookSubscription

    root = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    refused = client.post(
        "/admin/orchestration/webhooksubscription/add/",
        {
            "name": "erp",
            "url": "https://evil.example.com/h",
            "events": ["instance.started"],
            "active": "on",
        },
    )
    assert (
        refused.status_code == 200
        and "ORCHESTRATION_HTTP_ALLOWED_HOSTS" in refused.content.decode()
    )
    made = client.post(
        "/admin/orchestration/webhooksubscription/add/",
        {
            "name": "erp",
            "url": f"http://127.0.0.1:{receiver.port}/h",
            "events": ["instance.started"],
            "active": "on",
        },
        follow=True,
    )
    secret = re.search(r"secret of .+? is ([0-9a-f]{64})", made.content.decode()).group(1)
    assert WebhookSubscription.objects.get().secret == secret
    page = client.get(
        f"/admin/orchestration/webhooksubscription/{WebhookSubscription.objects.get().pk}/change/"
    )
    assert secret not in page.content.decode()
    receiver.secret = secret
    run.start("purchase-approval", {"item": "desk", "amount": 5000}, as_="alice")
    run.advance(seconds=1)
    assert receiver.events() == ["instance.started"] and receiver.received[0]["valid"]
    delivery = WebhookDelivery.objects.get()
    client.post(
        "/admin/orchestration/webhookdelivery/",
        {"action": "replay", "_selected_action": [delivery.pk]},
    )
    run.advance(seconds=1)
    assert receiver.events() == ["instance.started", "instance.started"]
    assert WebhookDelivery.objects.filter(replay_of=delivery).get().status == "delivered"
