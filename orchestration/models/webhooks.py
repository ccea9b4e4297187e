"""Webhooks: subscriptions to event types, and the deliveries made for them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from orchestration import clock
from orchestration.models.definitions import ProcessEvent

# What a subscription may ask for (orchestration/side_effects/webhooks.py says what each is).
WEBHOOK_EVENTS = {
    "instance.started": _("An instance started"),
    "instance.completed": _("An instance completed"),
    "instance.failed": _("An instance failed"),
    "instance.incident": _("An instance stopped in an incident"),
    "task.created": _("A human task was created"),
    "task.completed": _("A human task was decided"),
    "task.escalated": _("A human task's escalation fired"),
}


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    url = models.URLField(
        max_length=500,
        help_text=_("Its host must be in ORCHESTRATION_HTTP_ALLOWED_HOSTS, like an http step's."),
        verbose_name=_("URL"),
    )
    events = models.JSONField(
        default=list, help_text=_("The event types to send."), verbose_name=_("events")
    )
    # Signs every delivery (HMAC-SHA256); shown once, when the subscription is made.
    secret = models.CharField(max_length=64, editable=False, verbose_name=_("secret"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(
        default=clock.now, editable=False, verbose_name=_("created at")
    )
    # The circuit breaker (orchestration/side_effects/webhooks.py): failed attempts in a
    # row, and until when the target is left alone after too many.
    failures_in_a_row = models.PositiveIntegerField(
        default=0, editable=False, verbose_name=_("failures in a row")
    )
    paused_until = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("paused until")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed (gave up)")


class WebhookDelivery(models.Model):
    """One event for one subscription: sent until the target answers 2xx, with
    backoff, for a day. The body is fixed when the delivery is made, so a
    retry or a replay sends the same bytes."""

    subscription = models.ForeignKey(
        WebhookSubscription,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("subscription"),
    )
    # Not a database constraint: on PostgreSQL the audit table is partitioned by
    # month (migration 0041), and an archived month is dropped whole.
    event = models.ForeignKey(
        ProcessEvent, null=True, on_delete=models.PROTECT, related_name="+",
        db_constraint=False, verbose_name=_("event"),
    )  # fmt: skip
    event_type = models.CharField(max_length=40, verbose_name=_("event type"))
    body = models.JSONField(verbose_name=_("body"))
    status = models.CharField(
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.PENDING,
        verbose_name=_("status"),
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(verbose_name=_("next attempt at"))
    # Its instance's trace (orchestration/tracing.py): the POST joins it.
    traceparent = models.CharField(
        max_length=64, blank=True, default="", editable=False, verbose_name=_("trace")
    )
    lease_until = models.DateTimeField(null=True, blank=True, verbose_name=_("lease until"))
    replay_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replays",
        verbose_name=_("replay of"),
    )
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    last_error = models.CharField(max_length=500, blank=True, verbose_name=_("last error"))

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = _("webhook deliveries")
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="webhook_due",
            )
        ]
        verbose_name = _("webhook delivery")

    def __str__(self) -> str:
        return f"{self.event_type} to {self.subscription_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One try of a delivery, as the target answered it."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="log", verbose_name=_("delivery")
    )
    at = models.DateTimeField(default=clock.now, verbose_name=_("time"))
    status_code = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("status code")
    )
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))
    milliseconds = models.PositiveIntegerField(default=0, verbose_name=_("milliseconds"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at}: {self.status_code or self.error}"


class OutboxCursor(models.Model):
    """How far a consumer of the sealed audit log got ("webhooks": fan-out,
    "mail"): the seal it reads (`position`) and how many of that seal's
    entries it handled (`offset`). The chain's order is gap-free and a late
    commit cannot jump it, so nothing is skipped, and sending marks this one
    row instead of every row sent. ("sender" is the webhook sending job's
    lease: `position` is when it lapses, in Unix seconds.)"""

    name = models.CharField(max_length=20, unique=True, verbose_name=_("name"))
    position = models.BigIntegerField(default=0, verbose_name=_("position"))
    offset = models.PositiveIntegerField(default=0, verbose_name=_("offset"))

    class Meta:
        verbose_name = _("outbox cursor")
        verbose_name_plural = _("outbox cursors")

    def __str__(self) -> str:
        return f"{self.name}: {self.position}"
