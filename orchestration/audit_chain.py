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

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction

from orchestration.models import ProcessEvent

GENESIS = "0" * 64
# What a seal covers: every column but the outbox stamp and the seal itself.
CONTENT = ("id", "created_at", "kind", "actor_id", "client", "definition_id", "version_id",
           "instance_id", "step", "from_status", "to_status", "reason", "payload",
           "request_id", "ip")  # fmt: skip
_LOCK_KEY = 7_250_311  # pg advisory lock: "the audit sealer"


def digest(row: dict[str, Any]) -> str:
    """sha256 of the row's content in a canonical JSON form."""
    values = dict(row)
    created = values["created_at"]
    if isinstance(created, datetime):
        values["created_at"] = created.astimezone(UTC).isoformat()
    text = json.dumps({k: values[k] for k in CONTENT}, sort_keys=True,
                      separators=(",", ":"), ensure_ascii=False, default=str)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()


def chain(previous: str, row_digest: str) -> str:
    return hashlib.sha256(f"{previous}{row_digest}".encode()).hexdigest()


def seal_pending(*, limit: int = 2000) -> int:
    """Seal up to `limit` committed unsealed rows; return how many. Returns 0
    at once while another sweep is sealing."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
                if not cursor.fetchone()[0]:
                    return 0
        rows = list(
            ProcessEvent.objects.filter(seal_seq__isnull=True)
            .order_by("pk")
            .values(*CONTENT)[:limit]
        )
        if not rows:
            return 0
        last = (
            ProcessEvent.objects.filter(seal_seq__isnull=False)
            .order_by("-seal_seq")
            .values_list("seal_seq", "seal")
            .first()
        )
        seq, previous = (int(last[0] or 0), str(last[1])) if last else (0, GENESIS)
        sealed = []
        for row in rows:
            seq += 1
            previous = chain(previous, digest(row))
            sealed.append(ProcessEvent(pk=row["id"], seal_seq=seq, seal=previous))
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
    """Walk the chain in sequence order: the first row whose content changed,
    whose place changed (reordered), or that is missing (a gap in the
    sequence), breaks it. Constant memory."""
    previous, expected, count = GENESIS, 1, 0
    for row in _sealed_rows():
        if row["seal_seq"] != expected:
            return Verdict(count, _unsealed(), (
                f"seal #{expected} is missing (the row sealed after row sealed #"
                f"{expected - 1} was deleted, or its seal removed); next is row {row['id']} "
                f"with seal #{row['seal_seq']}"))  # fmt: skip
        recomputed = chain(previous, digest(row))
        if recomputed != row["seal"]:
            why = "its content was changed, or rows were reordered or removed before it"
            where = f"row {row['id']} (seal #{row['seal_seq']})"
            return Verdict(count, _unsealed(), f"{where} does not match its seal: {why}")
        previous, expected, count = row["seal"], expected + 1, count + 1
    return Verdict(count, _unsealed(), "")


def _unsealed() -> int:
    return ProcessEvent.objects.filter(seal_seq__isnull=True).count()
