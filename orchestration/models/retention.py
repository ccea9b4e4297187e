"""Legal holds: what the retention purge and erasure must leave alone
(orchestration/retention)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from orchestration import clock


class HoldScope(models.TextChoices):
    INSTANCE = "instance", _("One instance")
    DEFINITION = "definition", _("Every instance of a definition")
    SUBJECT = "subject", _("Every instance of a data subject")


class LegalHold(models.Model):
    """While a hold is on (not lifted), nothing it covers is purged or erased.
    Placing and lifting are audited (hold.placed, hold.lifted); a lifted hold
    stays as the record of when and why."""

    scope = models.CharField(max_length=16, choices=HoldScope.choices, verbose_name=_("scope"))
    instance = models.ForeignKey(
        "orchestration.ProcessInstance", null=True, blank=True, on_delete=models.PROTECT,
        related_name="holds", verbose_name=_("instance"),
    )  # fmt: skip
    definition = models.ForeignKey(
        "orchestration.ProcessDefinition", null=True, blank=True, on_delete=models.PROTECT,
        related_name="holds", verbose_name=_("definition"),
    )  # fmt: skip
    # The subject's keyed digest (retention/subjects.py), never the value itself:
    # a hold must not keep in clear what an erasure would remove.
    subject_key = models.CharField(
        max_length=64, blank=True, db_index=True, verbose_name=_("subject key")
    )
    reason = models.TextField(verbose_name=_("reason"))
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name=_("placed by"),
    )  # fmt: skip
    placed_at = models.DateTimeField(default=clock.now, verbose_name=_("placed at"))
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="+", verbose_name=_("lifted by"),
    )  # fmt: skip
    lifted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("lifted at"))
    lift_reason = models.TextField(blank=True, verbose_name=_("why lifted"))

    class Meta:
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(
                        scope="instance",
                        instance__isnull=False,
                        definition__isnull=True,
                        subject_key="",
                    )
                    | models.Q(
                        scope="definition",
                        definition__isnull=False,
                        instance__isnull=True,
                        subject_key="",
                    )
                    | (
                        models.Q(scope="subject", instance__isnull=True, definition__isnull=True)
                        & ~models.Q(subject_key="")
                    )
                ),
                name="legal_hold_one_target",
            ),
        ]
        indexes = [
            models.Index(fields=["scope"], condition=models.Q(lifted_at__isnull=True),
                         name="legal_hold_active"),
        ]  # fmt: skip
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")

    def __str__(self) -> str:
        target = {
            HoldScope.INSTANCE: f"instance #{self.instance_id}",
            HoldScope.DEFINITION: f"definition #{self.definition_id}",
        }.get(self.scope, "a data subject")  # type: ignore[call-overload]
        return f"hold on {target}" + ("" if self.lifted_at is None else " (lifted)")
