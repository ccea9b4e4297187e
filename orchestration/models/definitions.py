"""Definitions and their versions, and the event table that is audit log and outbox."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from orchestration import clock
from orchestration.audit import context as audit_context
from orchestration.exceptions import AppendOnly, ImmutableVersion
from orchestration.states import VersionStatus

# Fields fixed once a version leaves draft.
_FROZEN_FIELDS = frozenset(
    {"definition", "definition_id", "number", "source", "spec", "content_hash"}
)

# What a status change writes (states.transition_version).
_STATUS_FIELDS = frozenset(
    {"status", "published_at", "deprecated_at", "retired_at", "published_by"}
)


class ProcessDefinition(models.Model):
    """A process known by a stable key; its content lives in versions."""

    key = models.SlugField(max_length=100, unique=True, verbose_name=_("key"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    created_at = models.DateTimeField(
        default=clock.now, editable=False, verbose_name=_("created at")
    )
    updated_at = models.DateTimeField(
        default=clock.now, editable=False, verbose_name=_("updated at")
    )

    class Meta:
        ordering = ["key"]
        verbose_name = _("process definition")
        verbose_name_plural = _("process definitions")

    def __str__(self) -> str:
        return self.key


class ProcessVersionQuerySet(models.QuerySet["ProcessVersion"]):
    def update(self, **kwargs: Any) -> int:
        """Refuse bulk changes to the content of versions that are not drafts."""
        if _FROZEN_FIELDS & set(kwargs) and self.exclude(status=VersionStatus.DRAFT).exists():
            raise ImmutableVersion("published versions cannot be changed")
        if "status" in kwargs:
            raise ImmutableVersion("status changes go through states.transition_version()")
        return super().update(**kwargs)

    def update_status(self, **kwargs: Any) -> int:
        """Only for states.transition_version(): the status and its stamps, nothing else."""
        other = set(kwargs) - _STATUS_FIELDS
        if "status" not in kwargs or other:
            raise ImmutableVersion(f"update_status() changes the status only, not {sorted(other)}")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.exclude(status=VersionStatus.DRAFT).exists():
            raise ImmutableVersion("only drafts can be deleted")
        return super().delete()


class ProcessVersion(models.Model):
    """One numbered version of a definition: a mutable draft until published, then frozen."""

    definition = models.ForeignKey(
        ProcessDefinition,
        on_delete=models.PROTECT,
        related_name="versions",
        verbose_name=_("definition"),
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    status = models.CharField(
        max_length=16,
        choices=VersionStatus.choices,
        default=VersionStatus.DRAFT,
        verbose_name=_("status"),
    )
    source = models.TextField(
        help_text=_("The definition as written (YAML or JSON)."), verbose_name=_("source")
    )
    spec = models.JSONField(
        help_text=_("The parsed, validated definition."), verbose_name=_("spec")
    )
    content_hash = models.CharField(max_length=64, verbose_name=_("content hash"))
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
    updated_at = models.DateTimeField(
        default=clock.now, editable=False, verbose_name=_("updated at")
    )
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("published by"),
    )
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published at"))
    deprecated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("deprecated at"))
    retired_at = models.DateTimeField(null=True, blank=True, verbose_name=_("retired at"))

    objects = ProcessVersionQuerySet.as_manager()

    class Meta:
        ordering = ["definition__key", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["definition", "number"], name="version_number_unique"),
            models.UniqueConstraint(
                fields=["definition"],
                condition=models.Q(status="draft"),
                name="one_draft_per_definition",
            ),
        ]
        indexes = [models.Index(fields=["definition", "status", "-number"])]
        permissions = [("publish_processversion", "Can publish, deprecate and retire versions")]
        verbose_name = _("process version")
        verbose_name_plural = _("process versions")

    def __str__(self) -> str:
        return f"{self.definition.key} v{self.number} ({self.status})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Refuse to change the content of a version that has left draft.

        The check reads the stored row, so it holds for every caller (admin,
        services, shell), not only for forms.
        """
        if self.pk is not None:
            # Every column, not a chosen few: what a published version runs
            # (spec) is as fixed as what it says (source).
            names = [f.attname for f in self._meta.concrete_fields if not f.primary_key]
            stored = type(self).objects.filter(pk=self.pk).values(*names).first()
            if stored is not None:
                if self.status != stored["status"]:
                    raise ImmutableVersion("status changes go through states.transition_version()")
                changed = sorted(n for n in names if stored[n] != getattr(self, n))
                if stored["status"] != VersionStatus.DRAFT and changed:
                    raise ImmutableVersion(
                        f"{self} is {stored['status']} and cannot be changed ({', '.join(changed)})"
                    )
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if not self.is_draft:
            raise ImmutableVersion(f"{self} is {self.status}; only drafts can be deleted")
        return super().delete(*args, **kwargs)

    @property
    def is_draft(self) -> bool:
        return self.status == VersionStatus.DRAFT


class ProcessEventQuerySet(models.QuerySet["ProcessEvent"]):
    """The audit log is append-only in bulk too (PostgreSQL's trigger refuses
    any change, whoever asks)."""

    def update(self, **kwargs: Any) -> int:
        raise AppendOnly("process events are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnly("process events are append-only")


class ProcessEvent(models.Model):
    """Append-only: every state change writes one row, in the same transaction,
    and it is never updated.

    It is the audit log, and the outbox for side effects that must happen
    after commit: mail and the webhooks read the sealed log by a cursor each
    (orchestration/side_effects), so nothing is stamped on the row. The chain
    that seals the rows lives beside them (AuditSeal).
    """

    created_at = models.DateTimeField(
        default=clock.now, db_index=True, verbose_name=_("created at")
    )
    kind = models.CharField(max_length=64, verbose_name=_("kind"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor"),
    )
    definition = models.ForeignKey(
        ProcessDefinition,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("definition"),
    )
    version = models.ForeignKey(
        ProcessVersion,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        verbose_name=_("version"),
    )
    instance = models.ForeignKey(
        "orchestration.ProcessInstance", null=True, blank=True, on_delete=models.PROTECT,
        related_name="events", verbose_name=_("instance"),
    )  # fmt: skip
    step = models.CharField(max_length=100, blank=True, verbose_name=_("step"))
    from_status = models.CharField(max_length=32, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=32, blank=True, verbose_name=_("to status"))
    reason = models.TextField(blank=True, verbose_name=_("reason"))
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    # Set only on rows written before the outbox read the log by cursor (sent
    # or not meant to be sent then); the mail cursor skips those. Never written now.
    dispatched_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("dispatched at")
    )
    # Where it came from: the request (id, client address) and, for the API,
    # the key's name; empty for the system (workers, commands).
    request_id = models.CharField(
        max_length=64, blank=True, default=audit_context.request_id, verbose_name=_("request id")
    )
    ip = models.GenericIPAddressField(
        null=True, blank=True, default=audit_context.ip, verbose_name=_("IP address")
    )
    client = models.CharField(
        max_length=150, blank=True, default=audit_context.client, verbose_name=_("client")
    )

    objects = ProcessEventQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [
            # The mail sweep finds the notifications among the rows it reads.
            models.Index(
                fields=["id"], condition=models.Q(kind="notification"), name="event_notifications"
            ),
        ]
        verbose_name = _("process event")
        verbose_name_plural = _("process events")

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("process events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("process events are append-only")
