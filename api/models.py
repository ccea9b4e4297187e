"""API keys for systems, and the answers kept for idempotent replays."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from orchestration import clock

# What a key may be scoped to. A key may do at most what its account's roles
# allow; the scopes narrow that further (the policy module checks both).
SCOPES = {
    "definitions:read": _("Read definitions and their versions"),
    "definitions:deploy": _("Deploy draft versions"),
    "definitions:publish": _("Publish versions"),
    "instances:start": _("Start instances"),
    "instances:read": _("Read instances and their history"),
    "instances:operate": _("Cancel and retry instances"),
    "messages:send": _("Send messages to instances"),
    "tasks:read": _("Read tasks"),
    "tasks:act": _("Claim, release, delegate and complete tasks"),
    "external-tasks:work": _("Fetch, lock and complete external tasks"),
}


class ApiKey(models.Model):
    """A system's credential. The secret is shown once, when the key is made;
    only its SHA-256 is kept (the secret is 256 random bits, so a slow hash
    adds nothing). A key acts as its account, within its scopes."""

    name = models.CharField(
        max_length=100,
        unique=True,
        help_text=_("Who uses the key; the audit log names it as the actor."),
        verbose_name=_("name"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text=_("The account the key acts as: its roles bound what the key may do."),
        verbose_name=_("user"),
    )
    prefix = models.CharField(max_length=12, unique=True, editable=False, verbose_name=_("prefix"))
    secret_hash = models.CharField(max_length=64, editable=False, verbose_name=_("secret hash"))
    scopes = models.JSONField(
        default=list,
        blank=True,
        help_text=_("What the key may do (see the list); empty: nothing."),
        verbose_name=_("scopes"),
    )
    definitions = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Definition keys it may touch; empty: all."),
        verbose_name=_("definitions"),
    )
    created_at = models.DateTimeField(
        default=clock.now, editable=False, verbose_name=_("created at")
    )
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("last used at")
    )
    revoked_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("revoked at")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class IdempotentRequest(models.Model):
    """A POST made with an Idempotency-Key, and the answer it got: a replay of
    the same key and body gets this answer again without acting again."""

    owner = models.CharField(
        max_length=40, verbose_name=_("owner")
    )  # "key:<prefix>" or "user:<id>"
    key = models.CharField(max_length=255, verbose_name=_("key"))
    fingerprint = models.CharField(
        max_length=64, verbose_name=_("fingerprint")
    )  # SHA-256 of method, path and body
    status = models.PositiveSmallIntegerField(verbose_name=_("status"))
    content_type = models.CharField(max_length=100, verbose_name=_("content type"))
    body = models.BinaryField(verbose_name=_("body"))
    created_at = models.DateTimeField(default=clock.now, verbose_name=_("created at"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]
        verbose_name = _("idempotent request")
        verbose_name_plural = _("idempotent requests")

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"


class ApiCall(models.Model):
    """One request under /api/v1/: who (key, account), what (method, path),
    the answer's status, and when. The access log of the API: every call,
    reads included, kept API_CALL_LOG_DAYS days. Changes are in the audit log
    too (hash-chained, with the key as client); this says who read what."""

    at = models.DateTimeField(default=clock.now, verbose_name=_("time"))
    key = models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("key"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("user"),
    )
    method = models.CharField(max_length=8, verbose_name=_("method"))
    path = models.CharField(max_length=300, verbose_name=_("path"))
    status = models.PositiveSmallIntegerField(verbose_name=_("status"))
    request_id = models.CharField(max_length=64, blank=True, verbose_name=_("request id"))
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP address"))
    milliseconds = models.PositiveIntegerField(default=0, verbose_name=_("milliseconds"))

    class Meta:
        ordering = ["-id"]
        verbose_name = _("API call")
        indexes = [
            models.Index(fields=["at"], name="apicall_at"),
            models.Index(fields=["key", "at"], name="apicall_key_at"),
        ]
        verbose_name_plural = _("API calls")

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.status}"
