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


class AuditArchive(models.Model):
    """One month of the audit log exported to a file and dropped (PostgreSQL:
    its partition; orchestration/audit/partitions.py). What stays here lets
    `verify_audit` walk past the month and `verify_audit --archive FILE`
    prove the file is that month and links to what remains: the file's
    digest, the rows' id range, the seals that hold them, and the digests of
    its rows that share a seal with rows kept."""

    partition = models.CharField(max_length=100, unique=True, verbose_name=_("partition"))
    starts = models.DateTimeField(verbose_name=_("from"))
    ends = models.DateTimeField(verbose_name=_("until"))
    rows = models.PositiveBigIntegerField(verbose_name=_("rows"))
    first_id = models.BigIntegerField(null=True, verbose_name=_("first id"))
    last_id = models.BigIntegerField(null=True, verbose_name=_("last id"))
    # The archived ids as [first, last] runs (a month's ids run almost unbroken).
    id_ranges = models.JSONField(default=list, verbose_name=_("id ranges"))
    # Digests of archived rows in seals that also hold rows not archived.
    shared = models.JSONField(default=dict, blank=True, verbose_name=_("shared digests"))
    file_name = models.CharField(max_length=300, verbose_name=_("file name"))
    file_sha256 = models.CharField(max_length=64, verbose_name=_("file SHA-256"))
    archived_at = models.DateTimeField(default=clock.now, verbose_name=_("archived at"))

    class Meta:
        ordering = ["starts"]
        verbose_name = _("audit archive")
        verbose_name_plural = _("audit archives")

    def __str__(self) -> str:
        return f"{self.partition} ({self.rows} rows)"
