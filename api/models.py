"""API keys for systems, and the answers kept for idempotent replays."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from orchestration import clock

# What a key may be scoped to. A key may do at most what its account's roles
# allow; the scopes narrow that further (the policy module checks both).
SCOPES = {
    "definitions:read": "Read definitions and their versions",
    "definitions:deploy": "Deploy draft versions",
    "definitions:publish": "Publish versions",
    "instances:start": "Start instances",
    "instances:read": "Read instances and their history",
    "instances:operate": "Cancel and retry instances",
    "messages:send": "Send messages to instances",
    "tasks:read": "Read tasks",
    "tasks:act": "Claim, release, delegate and complete tasks",
    "external-tasks:work": "Fetch, lock and complete external tasks",
}


class ApiKey(models.Model):
    """A system's credential. The secret is shown once, when the key is made;
    only its SHA-256 is kept (the secret is 256 random bits, so a slow hash
    adds nothing). A key acts as its account, within its scopes."""

    name = models.CharField(
        max_length=100,
        unique=True,
        help_text="Who uses the key; the audit log names it as the actor.",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text="The account the key acts as: its roles bound what the key may do.",
    )
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(
        default=list, blank=True, help_text="What the key may do (see the list); empty: nothing."
    )
    definitions = models.JSONField(
        default=list, blank=True, help_text="Definition keys it may touch; empty: all."
    )
    created_at = models.DateTimeField(default=clock.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class IdempotentRequest(models.Model):
    """A POST made with an Idempotency-Key, and the answer it got: a replay of
    the same key and body gets this answer again without acting again."""

    owner = models.CharField(max_length=40)  # "key:<prefix>" or "user:<id>"
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    status = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.BinaryField()
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"


class ApiCall(models.Model):
    """One request under /api/v1/: who (key, account), what (method, path),
    the answer's status, and when. The access log of the API: every call,
    reads included, kept API_CALL_LOG_DAYS days. Changes are in the audit log
    too (hash-chained, with the key as client); this says who read what."""

    at = models.DateTimeField(default=clock.now)
    key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField()
    request_id = models.CharField(max_length=64, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    milliseconds = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API call"
        indexes = [
            models.Index(fields=["at"], name="apicall_at"),
            models.Index(fields=["key", "at"], name="apicall_key_at"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"
