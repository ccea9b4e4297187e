"""The audit log's seals (orchestration/audit/chain.py): the hash chain lives
beside the rows, so an audit row is written once and never updated."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from orchestration import clock
from orchestration.exceptions import AppendOnly


class AuditSeal(models.Model):
    """One sealed batch of audit rows, numbered without gaps.

    `entries` lists the batch's rows in chain order: each row's id and the
    first 8 bytes of its link, where a row's link is sha256(the link before it
    + sha256(the row's canonical content)) and the first row's link before it
    is the previous seal's `link`. `link` is the last row's whole link.

    `high_water` and `holes` are the sealer's bookkeeping, not evidence: every
    row id up to `high_water` is in some seal, or in `holes` (ids a transaction
    still open may commit later, as [first, last, noticed] with the database's
    clock), or was never committed."""

    seq = models.BigIntegerField(primary_key=True, verbose_name=_("sequence number"))
    sealed_at = models.DateTimeField(default=clock.now, verbose_name=_("sealed at"))
    count = models.PositiveIntegerField(verbose_name=_("count"))
    first_id = models.BigIntegerField(verbose_name=_("first id"))
    last_id = models.BigIntegerField(db_index=True, verbose_name=_("last id"))
    entries = models.BinaryField(verbose_name=_("entries"))
    previous = models.CharField(max_length=64, verbose_name=_("previous"))
    link = models.CharField(max_length=64, verbose_name=_("link"))
    high_water = models.BigIntegerField(verbose_name=_("high water"))
    holes = models.JSONField(default=list, blank=True, verbose_name=_("holes"))

    class Meta:
        ordering = ["seq"]
        verbose_name = _("audit seal")
        verbose_name_plural = _("audit seals")

    def __str__(self) -> str:
        return f"seal #{self.seq} ({self.count} rows)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnly("audit seals are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnly("audit seals are append-only")
