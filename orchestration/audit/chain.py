"""The audit log's hash chain: tamper-evident without serialising the engine.

Writers only insert rows (the hot path takes no chain lock). A background
sweep seals committed rows afterwards: it takes the unsealed rows it can see,
in id order, and gives each the next sequence number and

    seal = sha256(previous seal + sha256(canonical content of the row))

so each seal covers the row's content and everything sealed before it. The
chain's order is the seal sequence, not the id: a row committed late with a
lower id (its transaction began first and ended last) is simply unsealed
until the next sweep, which seals it then, after rows with higher ids. It is
neither skipped (the sweep takes every unsealed row it sees) nor a break in the
chain (nothing is ever inserted into the sealed part). One sweep at a time:
on PostgreSQL an advisory lock (others skip), on SQLite the write lock.

`verify()` walks the chain by sequence and names the first row whose content,
place or presence no longer matches; a trigger on PostgreSQL refuses UPDATE
and DELETE of the table except the one-time setting of the seal and of the
outbox stamp (migration 0016), so tampering needs to go around the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from orchestration import clock, sweeps
from orchestration.audit.hashchain import CONTENT, GENESIS, chain, digest, seal_rows, walk
from orchestration.models import ProcessEvent

__all__ = ["CONTENT", "GENESIS", "Verdict", "chain", "digest", "seal_pending", "verify"]

_LOCK_KEY = 7_250_311  # pg advisory lock: "the audit sealer"
SEALING = "audit sealing"


def seal_pending(*, limit: int = 2000) -> int:
    """Seal up to `limit` committed unsealed rows; return how many. Returns 0
    at once while another sweep is sealing."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    return 0
        unsealed = ProcessEvent.objects.filter(seal_seq__isnull=True)
        rows = list(
            sweeps.skip_held(unsealed, SEALING, clock.now()).order_by("pk").values(*CONTENT)[:limit]
        )
        if not rows:
            return 0
        # A row whose content cannot be digested stays unsealed (verify_audit
        # counts it) and is given up at once: it would fail the same way again.
        digests = sweeps.each(
            SEALING, rows, lambda row: (row["id"], digest(row)), row_id=lambda row: row["id"],
            now=clock.now(), retry=False, savepoint=False,
        )  # fmt: skip
        if not digests:
            return 0
        last = (
            ProcessEvent.objects.filter(seal_seq__isnull=False)
            .order_by("-seal_seq")
            .values_list("seal_seq", "seal")
            .first()
        )
        seq, previous = (int(last[0] or 0), str(last[1])) if last else (0, GENESIS)
        sealed = [
            ProcessEvent(pk=pk, seal_seq=number, seal=seal)
            for pk, number, seal in seal_rows(digests, seq=seq, previous=previous)
        ]
        from orchestration.engine import store

        store.save_seals(sealed)
    return len(sealed)


@dataclass(frozen=True)
class Verdict:
    sealed: int
    unsealed: int
    broken: str  # "" when the chain holds; else what is wrong, naming the row

    @property
    def ok(self) -> bool:
        return not self.broken


def _sealed_rows() -> Iterator[dict[str, Any]]:
    rows = ProcessEvent.objects.filter(seal_seq__isnull=False).order_by("seal_seq")
    yield from rows.values(*CONTENT, "seal_seq", "seal").iterator(chunk_size=5000)


def verify() -> Verdict:
    """Walk the chain in sequence order (see walk()); constant memory."""
    count, broken = walk(_sealed_rows())
    return Verdict(count, _unsealed(), broken)


def _unsealed() -> int:
    return ProcessEvent.objects.filter(seal_seq__isnull=True).count()
