"""The webhook sender against targets that misbehave: one deadline for the
whole exchange, a small read of the answer, one target never holding the
others, a circuit breaker, and no second send caused by the sender itself."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestration import clock
from orchestration.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from orchestration.side_effects import webhooks

pytestmark = pytest.mark.django_db


class Target:
    """A receiver on 127.0.0.1 whose behaviour is its path: /ok, /fail (500),
    /trickle (a byte every 0.2 s), /huge (up to 50 MB), /slow (answers after 1.5 s)."""

    def __init__(self) -> None:
        self.posts: Counter[str] = Counter()
        self.sent_bytes = 0
        self.stop = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.posts[self.headers["X-Webhook-Id"]] += 1
                kind = self.path.strip("/")
                if kind == "slow":
                    outer.stop.wait(1.5)
                self.send_response(500 if kind == "fail" else 200)
                self.end_headers()
                try:
                    if kind == "trickle":
                        for _ in range(100):
                            if outer.stop.wait(0.2):
                                return
                            self.wfile.write(b"x")
                            self.wfile.flush()
                    elif kind == "huge":
                        block = b"x" * 65536
                        for _ in range(800):  # 50 MB, unless the client hangs up
                            self.wfile.write(block)
                            outer.sent_bytes += len(block)
                except OSError:
                    pass  # the sender hung up: what it was meant to do

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target(settings) -> Iterator[Target]:
    found = Target()
    settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{found.port}"]
    settings.ORCHESTRATION_WEBHOOK_TIMEOUT = 1.0
    yield found
    found.close()


def deliveries(target: Target, path: str, count: int, name: str = "") -> list[WebhookDelivery]:
    subscription = WebhookSubscription.objects.create(
        name=name or path, url=f"http://127.0.0.1:{target.port}/{path}",
        events=["instance.started"], secret="s",
    )  # fmt: skip
    now = clock.now()
    return [
        WebhookDelivery.objects.create(subscription=subscription, event_type="instance.started",
                                       body={"n": n}, next_attempt_at=now, created_at=now)
        for n in range(count)
    ]  # fmt: skip


def test_a_trickling_target_is_cut_off_at_the_deadline(target) -> None:
    (delivery,) = deliveries(target, "trickle", 1)
    started = time.monotonic()
    webhooks.deliver_due(seconds=5)
    assert time.monotonic() - started < 4  # 100 bytes at 5 a second would take 20 s
    (attempt,) = WebhookAttempt.objects.all()
    assert (attempt.status_code, attempt.error) == (None, "ReadTimeout")
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def test_a_huge_answer_is_not_read(target) -> None:
    (delivery,) = deliveries(target, "huge", 1)
    webhooks.deliver_due(seconds=5)
    delivery.refresh_from_db()
    assert delivery.status == "delivered"
    # The sender read a few KB and hung up; the rest never left the target
    # (what socket buffers took is all it could push).
    assert target.sent_bytes < 20 * 1024 * 1024


def test_a_slow_target_holds_only_its_own_deliveries(target, settings) -> None:
    settings.ORCHESTRATION_WEBHOOK_TIMEOUT = 3.0
    slow = deliveries(target, "slow", 30)
    fine = deliveries(target, "ok", 5)
    webhooks.deliver_due(seconds=1)  # one batch, then the time is up
    # The targets took turns: the slow one got half the batch, not all of it.
    for delivery in fine:
        delivery.refresh_from_db()
        assert delivery.status == "delivered"
    assert sum(target.posts[str(d.pk)] for d in slow) == webhooks.SEND_BATCH - len(fine)


def test_a_failing_target_is_paused_after_failures_in_a_row(target) -> None:
    broken = deliveries(target, "fail", 8)
    now = clock.now()
    for minute in range(4):
        moment = now + timedelta(minutes=minute * 10)
        webhooks.deliver_due(seconds=5, now=lambda moment=moment: moment)
    # All eight in the first round (five failures in a row break the circuit:
    # paused 8 min); ten minutes on, one delivery tries the rested target and
    # fails (paused 16 min), so the next round sends nothing; then one again.
    subscription = WebhookSubscription.objects.get()
    assert WebhookAttempt.objects.count() == len(broken) + 2
    assert subscription.failures_in_a_row == len(broken) + 2
    assert subscription.paused_until is not None and subscription.paused_until > now
    target_ok = WebhookSubscription.objects.filter(pk=subscription.pk)
    target_ok.update(url=f"http://127.0.0.1:{target.port}/ok", paused_until=None)
    webhooks.deliver_due(seconds=5, now=lambda: now + timedelta(hours=2))
    subscription.refresh_from_db()
    assert (subscription.failures_in_a_row, subscription.paused_until) == (0, None)


def test_a_claimed_delivery_is_not_claimed_again_while_it_may_still_be_sending(target) -> None:
    # Found: the lease (2 x timeout + 5 s) was shorter than a batch could take,
    # and a second round posted the same deliveries again.
    deliveries(target, "ok", 3)
    now = clock.now()
    first = webhooks._claim(now)
    assert len(first) == 3
    worst = 3 * webhooks.timeout_seconds()  # connect, send and read, each within the timeout
    assert webhooks._claim(now + timedelta(seconds=worst + 5)) == []
    assert all(d.lease_until > now + timedelta(seconds=worst) for d in first)
