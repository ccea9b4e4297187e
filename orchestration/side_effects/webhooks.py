"""Webhooks: events from the audit log, sent signed to subscribers.

Fan-out (the engine loop's side sweep, once a second) reads sealed audit rows
past its cursor, in chain order (side_effects/cursor.py), and makes one
delivery per matching subscription, with its body fixed then. Sending
(`deliver_due`, a django-q2 job the sweep and the minute schedule start)
posts each due delivery, signed, and retries failures with backoff for a
day; every attempt is logged. A target that hangs delays only its own
deliveries: sends run in their own job, in parallel, each exchange within one
deadline (ORCHESTRATION_WEBHOOK_TIMEOUT seconds) reading at most
MAX_ANSWER_BYTES of the answer; targets take turns in a batch, and one that
keeps failing is paused (a circuit breaker).

Signature: header `X-Webhook-Signature: t=<unix seconds>,v1=<hex>`, where hex
is HMAC-SHA256 with the subscription's secret over "<t>.<raw body>"
(docs/api.md shows how to check it)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext

from accounts import permissions
from orchestration import clock, limits, sweeps, tracing
from orchestration.audit import AuditKind
from orchestration.definitions.allowlist import host_allowed
from orchestration.exceptions import InstanceConflict, InvalidInput
from orchestration.models import (
    WEBHOOK_EVENTS,
    DeliveryStatus,
    OutboxCursor,
    ProcessEvent,
    ProcessInstance,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from orchestration.side_effects import cursor as outbox

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Webhook-Signature"
# Waits after the 1st, 2nd, ... failed attempt; then 8 h apart, until a day
# after the delivery was made.
BACKOFF = [10, 30, 60, 300, 900, 1800, 3600, 7200, 14400, 28800]
GIVE_UP_AFTER = timedelta(days=1)
FAN_OUT_BATCH = 1000
FAN_OUT = "webhook fan-out"
SENDING = "webhook sending"
SEND_BATCH = 10
# The answer's body is not needed: at most this much is read, then the
# connection is closed.
MAX_ANSWER_BYTES = 4096
# The circuit breaker: after this many failed attempts in a row a target is
# left alone for PAUSE (doubling with every further failure, up to PAUSE_CAP);
# then one delivery goes to try it, and a success closes the circuit.
BREAK_AFTER = 5
PAUSE = timedelta(minutes=1)
PAUSE_CAP = timedelta(hours=1)


def timeout_seconds() -> float:
    return float(getattr(settings, "ORCHESTRATION_WEBHOOK_TIMEOUT", 5.0))


# ---- which audit rows are which events ---------------------------------------------------
_INSTANCE_ENDS = {
    "completed": "instance.completed",
    "failed": "instance.failed",
    "incident": "instance.incident",
}


def events_of(row: ProcessEvent) -> Iterator[tuple[str, dict[str, Any]]]:
    """The webhook events one audit row stands for, with their data."""
    payload = row.payload or {}
    if row.kind == AuditKind.INSTANCE_STARTED:
        yield "instance.started", {}
    end = _INSTANCE_ENDS.get(row.to_status)
    if end and row.from_status != row.to_status and row.instance_id:
        yield end, {"from_status": row.from_status}
    if row.kind == AuditKind.NOTIFICATION and payload.get("reason") == "assigned":
        yield (
            "task.created",
            {"task": payload.get("task"), "step": row.step, "title": payload.get("title", "")},
        )
    if row.kind == AuditKind.TASK_COMPLETED:
        yield (
            "task.completed",
            {"task": payload.get("task"), "step": row.step, "outcome": payload.get("outcome", "")},
        )
    for note in payload.get("notes") or []:
        if note.get("kind") == AuditKind.TASK_ESCALATED:
            yield (
                "task.escalated",
                {
                    "step": note.get("step", ""),
                    "level": note.get("level"),
                    "action": note.get("action"),
                },
            )


def _body(
    row: ProcessEvent, kind: str, data: dict[str, Any], instance: ProcessInstance | None
) -> dict[str, Any]:
    return {
        "id": f"{row.pk}.{kind}",
        "type": kind,
        "occurred_at": row.created_at.isoformat(),
        "instance": None
        if instance is None
        else {
            "id": instance.pk,
            "definition": instance.definition.key,
            "version": instance.version.number,
            "business_key": instance.business_key,
            "status": row.to_status or instance.status,
        },
        "data": data,
    }


def fan_out(*, now: datetime | None = None) -> int:
    """Make deliveries for sealed audit rows past the cursor, in chain order;
    return how many. One sweep at a time (the cursor row is locked, others skip)."""
    now = now or clock.now()
    with transaction.atomic():
        position = outbox.locked("webhooks")
        if position is None:
            return 0
        subscriptions = list(WebhookSubscription.objects.filter(active=True))
        if not subscriptions:  # nobody listens: skip what was sealed meanwhile
            outbox.skip_to_end(position)
            return 0
        entries = outbox.read(position, FAN_OUT_BATCH)
        if not entries:
            return 0
        found = ProcessEvent.objects.in_bulk([e.row_id for e in entries])
        rows = [found[e.row_id] for e in entries if e.row_id in found]
        instances = ProcessInstance.objects.select_related("definition", "version").in_bulk(
            {r.instance_id for r in rows if r.instance_id}
        )

        def deliveries(row: ProcessEvent) -> list[WebhookDelivery]:
            out = []
            for kind, data in events_of(row):
                wanted = [s for s in subscriptions if kind in s.events]
                if wanted:
                    body = _body(row, kind, data, instances.get(row.instance_id))
                    instance = instances.get(row.instance_id)
                    trace = instance.traceparent if instance is not None else ""
                    out += [WebhookDelivery(subscription=s, event=row, event_type=kind, body=body,
                                            next_attempt_at=now, created_at=now, traceparent=trace)
                            for s in wanted]  # fmt: skip
            return out

        # A row whose events cannot be made is recorded and passed (the cursor
        # moves on in chain order): it would fail the same way again.
        made = [d for found in sweeps.each(
            FAN_OUT, rows, deliveries, row_id=lambda row: row.pk, now=now, retry=False,
            savepoint=False,
        ) for d in found]  # fmt: skip
        WebhookDelivery.objects.bulk_create(made, batch_size=500)
        outbox.advance(position, entries[-1])
    return len(made)


def any_due(now: datetime | None = None) -> bool:
    return bool(_due(now or clock.now()).exists())


# The sending job's lease (OutboxCursor "sender": position is when it lapses,
# in Unix seconds): one job at a time, so senders never crowd out the engine's
# loops on the django-q2 workers; a job that died frees it after this long.
_SENDER_LEASE = 90


def start_sender(now: datetime | None = None) -> bool:
    """Queue the sending job when deliveries are due and it is not running."""
    now = now or clock.now()
    if not any_due(now):
        return False
    with transaction.atomic():
        lease = outbox.locked("sender", position__lt=int(now.timestamp()))
        if lease is None:
            return False
        lease.position = int(now.timestamp()) + _SENDER_LEASE
        lease.save(update_fields=["position"])
    from django_q.tasks import async_task

    async_task("orchestration.jobs.deliver_webhooks", group="webhooks")
    return True


def sender_done() -> None:
    OutboxCursor.objects.filter(name="sender").update(position=0)


def _due(now: datetime) -> Any:
    return WebhookDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    ).exclude(subscription__paused_until__gt=now)


# ---- sending -----------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def _send(
    delivery: WebhookDelivery, transport: httpx.BaseTransport | None
) -> tuple[int | None, str, int]:
    """(status code or None, error, milliseconds) of one POST; never raises.
    The whole exchange (connect, send, the answer) has one deadline, and at
    most MAX_ANSWER_BYTES of the answer are read: a target that trickles or
    answers megabytes costs its own delivery a few seconds, nothing more."""
    raw = json.dumps(delivery.body, cls=DjangoJSONEncoder, separators=(",", ":")).encode()
    url = delivery.subscription.url
    if not host_allowed(url, settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS):
        return None, f"{url} is not in ORCHESTRATION_HTTP_ALLOWED_HOSTS", 0
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "process-engine-webhooks/1",
        "X-Webhook-Id": str(delivery.pk),
        "X-Webhook-Event": delivery.event_type,
        SIGNATURE_HEADER: sign(delivery.subscription.secret, int(time.time()), raw),
    }
    seconds = timeout_seconds()
    started = time.monotonic()
    deadline = started + seconds
    try:
        with (
            httpx.Client(timeout=seconds, transport=transport, follow_redirects=False) as client,
            client.stream("POST", url, content=raw, headers=headers) as answer,
        ):
            read = 0
            for chunk in answer.iter_raw():
                read += len(chunk)
                if read >= MAX_ANSWER_BYTES:
                    break  # enough: the status is what counts
                if time.monotonic() > deadline:
                    raise httpx.ReadTimeout(f"no complete answer within {seconds:g}s")
            code = answer.status_code
        return code, "", int((time.monotonic() - started) * 1000)
    except httpx.HTTPError as exc:
        return None, type(exc).__name__, int((time.monotonic() - started) * 1000)


def _traced_send(
    delivery: WebhookDelivery, transport: httpx.BaseTransport | None
) -> tuple[int | None, str, int]:
    """The POST in its instance's trace (httpx's instrumentation sends the
    traceparent to the target), when tracing is on."""
    with tracing.span(f"webhook {delivery.event_type}", parent=delivery.traceparent,
                      attributes={"orchestration.delivery": delivery.pk}):  # fmt: skip
        return _send(delivery, transport)


def _claim(now: datetime) -> list[WebhookDelivery]:
    """The next batch: due deliveries, oldest first, taken from the targets in
    turn (a slow or failing target gets its share of a batch, never the
    whole of it), leased for longer than a batch can take."""
    candidates = (
        _due(now)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", "subscription_id", "subscription__failures_in_a_row")
    )
    queues: dict[int, list[int]] = {}
    for pk, subscription, failures in candidates[: SEND_BATCH * 20]:
        waiting = queues.setdefault(subscription, [])
        if failures < BREAK_AFTER or not waiting:  # a rested target: one try first
            waiting.append(pk)
    chosen: list[int] = []
    while len(chosen) < SEND_BATCH and any(queues.values()):
        for waiting in queues.values():
            if waiting and len(chosen) < SEND_BATCH:
                chosen.append(waiting.pop(0))
    with transaction.atomic():
        batch = list(
            _due(now)
            .filter(pk__in=chosen)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription")
            .order_by("next_attempt_at", "pk")
        )
        # Sends run in parallel, each within its deadline; the lease outlasts
        # the slowest of them with room to record it, so no lapsed lease lets a
        # second sender post the same delivery again.
        lease = now + timedelta(seconds=3 * timeout_seconds() + 30)
        for delivery in batch:
            delivery.status, delivery.lease_until = DeliveryStatus.SENDING, lease
        WebhookDelivery.objects.bulk_update(batch, ["status", "lease_until"])
    return batch


def _record(delivery: WebhookDelivery, result: tuple[int | None, str, int], now: datetime) -> str:
    """Keep an attempt's result; return it in a word: delivered, failed (tried
    again later) or gave_up."""
    code, error, ms = result
    ok = code is not None and 200 <= code < 300
    delivery.attempts += 1
    delivery.lease_until = None
    if ok:
        delivery.status, delivery.delivered_at, delivery.last_error = (
            DeliveryStatus.DELIVERED,
            now,
            "",
        )
    else:
        delivery.last_error = limits.storable_text(error or f"HTTP {code}")
        wait = BACKOFF[min(delivery.attempts - 1, len(BACKOFF) - 1)]
        retry_at = now + timedelta(seconds=wait)
        if retry_at - delivery.created_at > GIVE_UP_AFTER:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, retry_at
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=now,
            status_code=code,
            error=limits.storable_text(error),
            milliseconds=ms,
        )
        delivery.save(
            update_fields=[
                "attempts",
                "lease_until",
                "status",
                "delivered_at",
                "last_error",
                "next_attempt_at",
            ]
        )
        _breaker(delivery.subscription_id, ok, now)
    if ok:
        return "delivered"
    return "gave_up" if delivery.status == DeliveryStatus.FAILED else "failed"


def _count(results: list[str]) -> None:
    """The attempts' results in the metrics (orchestration_webhook_deliveries_total)."""
    from orchestration.metrics.samples import Tally

    tally = Tally()
    for result in results:
        tally.count("orchestration_webhook_deliveries", {"result": result})
    with transaction.atomic():
        tally.save()


def _breaker(subscription_id: int, ok: bool, now: datetime) -> None:
    """Count the target's failures in a row; pause it after BREAK_AFTER."""
    target = WebhookSubscription.objects.select_for_update().get(pk=subscription_id)
    if ok:
        target.failures_in_a_row, target.paused_until = 0, None
    else:
        target.failures_in_a_row += 1
        over = target.failures_in_a_row - BREAK_AFTER
        if over >= 0:
            target.paused_until = now + min(PAUSE_CAP, PAUSE * 2 ** min(over, 20))
            log.warning("webhook target %s failed %d times in a row; paused until %s",
                        target.name, target.failures_in_a_row, target.paused_until)  # fmt: skip
    target.save(update_fields=["failures_in_a_row", "paused_until"])


def deliver_due(
    *, seconds: float = 50.0, transport: httpx.BaseTransport | None = None, now: Any = None
) -> int:
    """Send due deliveries, SEND_BATCH at a time in parallel, until none is due
    or `seconds` pass; return how many attempts were made."""
    deadline = time.monotonic() + seconds
    tries = 0
    with ThreadPoolExecutor(max_workers=SEND_BATCH, thread_name_prefix="webhook") as pool:
        while time.monotonic() < deadline:
            moment = now() if callable(now) else clock.now()
            batch = _claim(moment)
            if not batch:
                break
            results = list(pool.map(lambda d: _traced_send(d, transport), batch))
            moment = now() if callable(now) else clock.now()

            # One row's bad write must not stop the others: a delivery whose
            # result cannot be recorded stays leased and is sent again later.
            def record(
                pair: tuple[WebhookDelivery, tuple[int | None, str, int]], at: datetime = moment
            ) -> str:
                return _record(pair[0], pair[1], at)

            recorded = sweeps.each(SENDING, list(zip(batch, results, strict=True)), record,
                                   row_id=lambda pair: pair[0].pk, now=moment)  # fmt: skip
            _count(recorded)
            tries += len(batch)
    return tries


# ---- what people do ------------------------------------------------------------------
def subscription_create(
    *, actor: Any, name: str, url: str, events: Iterable[str]
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (shown to its maker once)."""
    permissions.require(actor, permissions.webhook_refusal(actor))
    events = sorted(set(events))
    errors: dict[str, list[str]] = {}
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if unknown or not events:
        errors["events"] = [
            gettext("unknown event type %(name)s") % {"name": repr(e)} for e in unknown
        ] or [gettext("choose at least one")]
    if not host_allowed(url, settings.ORCHESTRATION_HTTP_ALLOWED_HOSTS):
        errors["url"] = [gettext("its host is not in ORCHESTRATION_HTTP_ALLOWED_HOSTS")]
    if errors:
        raise InvalidInput(errors)
    secret = secrets.token_hex(32)
    with transaction.atomic():
        made = WebhookSubscription.objects.create(
            name=name, url=url, events=events, secret=secret, created_by=actor
        )
        ProcessEvent.objects.create(
            kind=AuditKind.WEBHOOK_SUBSCRIBED,
            actor=actor,
            payload={"name": name, "url": url, "events": events},
        )
    return made, secret


def delivery_replay(
    *, actor: Any, delivery_id: int, now: datetime | None = None
) -> WebhookDelivery:
    """Send a delivery again (the same body), as a new delivery."""
    permissions.require(actor, permissions.operate_refusal(actor))
    now = now or clock.now()
    with transaction.atomic():
        old = WebhookDelivery.objects.select_related("subscription").get(pk=delivery_id)
        if old.status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING):
            raise InstanceConflict(
                "still_sending",
                gettext("delivery %(id)s is still being sent") % {"id": old.pk},
            )
        again = WebhookDelivery.objects.create(
            subscription=old.subscription,
            event=old.event,
            event_type=old.event_type,
            body=old.body,
            next_attempt_at=now,
            created_at=now,
            replay_of=old,
        )
        ProcessEvent.objects.create(
            kind=AuditKind.WEBHOOK_REPLAYED,
            actor=actor,
            payload={"delivery": old.pk, "replay": again.pk, "subscription": old.subscription.name},
        )
    return again
