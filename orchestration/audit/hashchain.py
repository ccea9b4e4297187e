"""The audit log's hash chain as rules: what a seal covers, how links are
made, and how a walk over sealed rows finds the first one that no longer
matches. Pure (no database); orchestration.audit.chain reads and writes the
rows. Imports only the standard library.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
# What a seal covers: every column but the outbox stamp and the seal itself.
CONTENT = ("id", "created_at", "kind", "actor_id", "client", "definition_id", "version_id",
           "instance_id", "step", "from_status", "to_status", "reason", "payload",
           "request_id", "ip")  # fmt: skip


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


def seal_rows(
    digests: Iterable[tuple[int, str]], *, seq: int, previous: str
) -> list[tuple[int, int, str]]:
    """(id, sequence, seal) for rows given as (id, digest) in sealing order,
    continuing a chain whose last link is sequence `seq` with seal `previous`."""
    sealed = []
    for pk, row_digest in digests:
        seq += 1
        previous = chain(previous, row_digest)
        sealed.append((pk, seq, previous))
    return sealed


def walk(rows: Iterable[dict[str, Any]]) -> tuple[int, str]:
    """(rows that hold, what breaks the chain or "") over sealed rows read in
    sequence order, each with its content, `seal_seq` and `seal`: the first row
    whose content changed or whose place changed (reordered), or a missing
    sequence number (a deleted row), breaks it."""
    previous, expected, count = GENESIS, 1, 0
    for row in rows:
        if row["seal_seq"] != expected:
            return count, (
                f"seal #{expected} is missing (the row sealed after row sealed #"
                f"{expected - 1} was deleted, or its seal removed); next is row {row['id']} "
                f"with seal #{row['seal_seq']}")  # fmt: skip
        if chain(previous, digest(row)) != row["seal"]:
            why = "its content was changed, or rows were reordered or removed before it"
            where = f"row {row['id']} (seal #{row['seal_seq']})"
            return count, f"{where} does not match its seal: {why}"
        previous, expected, count = row["seal"], expected + 1, count + 1
    return count, ""
