"""Webhooks: subscriptions to event types, and the deliveries made for them."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orchestration import clock
from orchestration.models.definitions import ProcessEvent

# What a subscription may ask for (orchestration/side_effects/webhooks.py says what each is).
WEBHOOK_EVENTS = {
    "instance.started": "An instance started",
    "instance.completed": "An instance completed",
    "instance.failed": "An instance failed",
    "instance.incident": "An instance stopped in an incident",
    "task.created": "A human task was created",
    "task.completed": "A human task was decided",
    "task.escalated": "A human task's escalation fired",
}


class WebhookSubscription(models.Model):
    name = models.CharField(max_length=100, unique=True)
    url = models.URLField(
        max_length=500,
        help_text="Its host must be in ORCHESTRATION_HTTP_ALLOWED_HOSTS, like an http step's.",
    )
    events = models.JSONField(default=list, help_text="The event types to send.")
    # Signs every delivery (HMAC-SHA256); shown once, when the subscription is made.
    secret = models.CharField(max_length=64, editable=False)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=clock.now, editable=False)
    # The circuit breaker (orchestration/side_effects/webhooks.py): failed attempts in a
    # row, and until when the target is left alone after too many.
    failures_in_a_row = models.PositiveIntegerField(default=0, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(models.Model):
    """One event for one subscription: sent until the target answers 2xx, with
    backoff, for a day. The body is fixed when the delivery is made, so a
    retry or a replay sends the same bytes."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.ForeignKey(ProcessEvent, null=True, on_delete=models.PROTECT, related_name="+")
    event_type = models.CharField(max_length=40)
    body = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    replay_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replays"
    )
    created_at = models.DateTimeField(default=clock.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="webhook_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} to {self.subscription_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One try of a delivery, as the target answered it."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="log")
    at = models.DateTimeField(default=clock.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    milliseconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.at}: {self.status_code or self.error}"


class OutboxCursor(models.Model):
    """How far a consumer of the sealed audit log got ("webhooks": fan-out,
    "mail"): the seal it reads (`position`) and how many of that seal's
    entries it handled (`offset`). The chain's order is gap-free and a late
    commit cannot jump it, so nothing is skipped, and sending marks this one
    row instead of every row sent. ("sender" is the webhook sending job's
    lease: `position` is when it lapses, in Unix seconds.)"""

    name = models.CharField(max_length=20, unique=True)
    position = models.BigIntegerField(default=0)
    offset = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.position}"
