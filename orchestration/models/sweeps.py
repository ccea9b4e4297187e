"""Rows a sweep could not handle (orchestration/sweeps.py)."""

from __future__ import annotations

from django.db import models


class SweepFailure(models.Model):
    """One row that raised in one sweep: tried again with backoff, given up
    after a few attempts, shown to operators in the admin. Deleted once the
    row is handled."""

    sweep = models.CharField(max_length=40)
    row_id = models.BigIntegerField()
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField()
    first_failed_at = models.DateTimeField()
    last_failed_at = models.DateTimeField()
    retry_at = models.DateTimeField(null=True, blank=True)  # NULL: given up
    given_up = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sweep", "row_id"], name="sweep_failure_row")
        ]

    def __str__(self) -> str:
        return f"{self.sweep} #{self.row_id}"
