"""The audit log's hash chain as rules: what a seal covers, how links are
made, and how a walk over sealed rows finds the first one that no longer
matches. Pure (no database); orchestration.audit.chain reads and writes the
rows. Imports only the standard library.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
# What a seal covers: every column of the row but the legacy outbox stamp.
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


ENTRY = struct.Struct(">q8s")  # a row's id, then the first 8 bytes of its link


def link_rows(previous: str, digests: Iterable[tuple[int, str]]) -> tuple[bytes, str]:
    """Seal rows given as (id, digest) in chain order after the link `previous`:
    (the entries, the last link). Each row's link is chain(link before, digest);
    an entry keeps the row's id and the start of its link, so a walk can name the
    first row that no longer matches, and the seal keeps the whole last link."""
    entries = bytearray()
    for pk, row_digest in digests:
        previous = chain(previous, row_digest)
        entries += ENTRY.pack(pk, bytes.fromhex(previous[:16]))
    return bytes(entries), previous


def entries_of(entries: bytes) -> list[tuple[int, str]]:
    """(id, start of its link in hex) of every entry, in chain order."""
    return [(pk, short.hex()) for pk, short in ENTRY.iter_unpack(entries)]


def walk(
    seals: Iterable[dict[str, Any]], rows_of: Callable[[list[int]], dict[int, dict[str, Any]]]
) -> tuple[int, str]:
    """(rows that hold, what breaks the chain or "") over the seals read in
    sequence order (`seq`, `previous`, `link`, `entries`), with `rows_of(ids)`
    giving the content of the audit rows that still exist. Names the first
    missing seal, the first row whose content or place changed (a reorder
    changes the links of the rows after it), the first deleted row, or a seal
    whose own links were altered."""
    previous, expected, count = GENESIS, 1, 0
    for seal in seals:
        number = seal["seq"]
        if number != expected:
            return count, (
                f"seal #{expected} is missing (deleted, or renumbered); the next one is seal "
                f"#{number}")  # fmt: skip
        if seal["previous"] != previous:
            return count, f"seal #{number} does not follow seal #{number - 1}: the seal was altered"
        entries = entries_of(bytes(seal["entries"]))
        rows = rows_of([pk for pk, _ in entries])
        for pk, short in entries:
            row = rows.get(pk)
            if row is None:
                return count, (
                    f"row {pk} (seal #{number}) is missing: it was deleted, or its id changed"
                )
            previous = chain(previous, digest(row))
            if previous[:16] != short:
                why = "its content was changed, or rows were reordered or removed before it"
                return count, f"row {pk} (seal #{number}) does not match its seal: {why}"
            count += 1
        if previous != seal["link"]:
            return (
                count,
                f"seal #{number} does not match its rows' links: the seal was altered",
            )
        expected += 1
    return count, ""
