"""Rows a sweep could not handle (orchestration/sweeps.py)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SweepFailure(models.Model):
    """One row that raised in one sweep: tried again with backoff, given up
    after a few attempts, shown to operators in the admin. Deleted once the
    row is handled."""

    sweep = models.CharField(max_length=40, verbose_name=_("sweep"))
    row_id = models.BigIntegerField(verbose_name=_("row id"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    error = models.TextField(verbose_name=_("error"))
    first_failed_at = models.DateTimeField(verbose_name=_("first failed at"))
    last_failed_at = models.DateTimeField(verbose_name=_("last failed at"))
    retry_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("retry at")
    )  # NULL: given up
    given_up = models.BooleanField(default=False, verbose_name=_("given up"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sweep", "row_id"], name="sweep_failure_row")
        ]
        verbose_name = _("sweep failure")
        verbose_name_plural = _("sweep failures")

    def __str__(self) -> str:
        return f"{self.sweep} #{self.row_id}"
