"""The audit log's hash chain as rules: what a seal covers, how links are
made, and how a walk over sealed rows finds the first one that no longer
matches. Pure (no database); orchestration.audit.chain reads and writes the
rows. Imports only the standard library.
"""

from __future__ import annotations

import base64
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
# The columns that may hold personal data: the seal covers a digest of each
# (of each payload key), not the value, so a removal keeps the chain whole.
PERSONAL = ("reason", "ip")
# A row whose values were removed keeps, under this payload key, what was
# removed, when, by which audit row and under which rule, and the removed
# values' digests.
REMOVED = "_removed"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)  # fmt: skip


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def value_digest(value: Any) -> str:
    """What the seal keeps of one personal value: sha256 of its canonical JSON."""
    return _sha(_json(value))


def digest(row: dict[str, Any]) -> str:
    """sha256 of the row's content in a canonical JSON form, where the payload
    stands as each key's value digest and `reason` and `ip` as theirs; a value
    removed since (see REMOVED) stands as the digest the removal kept."""
    values = {k: row[k] for k in CONTENT}
    created = values["created_at"]
    if isinstance(created, datetime):
        values["created_at"] = created.astimezone(UTC).isoformat()
    payload = values["payload"]
    removed: dict[str, Any] = {}
    if isinstance(payload, dict):
        marker = payload.get(REMOVED)
        removed = marker if isinstance(marker, dict) else {}
        kept = {k: value_digest(v) for k, v in payload.items() if k != REMOVED or not removed}
        keys = removed.get("keys")
        gone = {k: _hex(v) for k, v in keys.items()} if isinstance(keys, dict) else {}
        values["payload"] = kept | gone
    else:
        values["payload"] = value_digest(payload)
    for name in PERSONAL:
        values[name] = _hex(removed[name]) if name in removed else value_digest(values[name])
    return _sha(_json(values))


def _compact(hex_digest: str) -> str:
    """A digest as a marker keeps it: base64url, 43 characters instead of 64."""
    return base64.urlsafe_b64encode(bytes.fromhex(hex_digest)).decode().rstrip("=")


def _hex(kept: Any) -> Any:
    """A marker's digest back in hex (anything else as it is: it will not match)."""
    if not isinstance(kept, str) or len(kept) != 43:
        return kept
    try:
        return base64.urlsafe_b64decode(kept + "=").hex()
    except ValueError:
        return kept


def without_values(
    row: dict[str, Any], keys: Iterable[str], columns: Iterable[str], *, by: int
) -> dict[str, Any]:
    """The row's `payload`, `reason` and `ip` once the payload `keys` and the
    PERSONAL `columns` named are removed: the values gone, their digests kept
    under REMOVED (compactly) with the id of the removal's own audit row
    (`by`: it says the rule and the time), so the row's digest, and with it
    the chain, stays the same. Removing from a row again adds to its marker."""
    payload = row["payload"]
    if not isinstance(payload, dict):  # never written so: the row fails alone
        raise ValueError(f"row {row['id']}: its payload is not an object")
    marker = payload.get(REMOVED)
    removed = dict(marker) if isinstance(marker, dict) else {}
    digests = dict(removed.get("keys") or {})
    out = {k: v for k, v in payload.items() if k != REMOVED}
    for key in keys:
        if key in out and key != REMOVED:
            digests[key] = _compact(value_digest(out.pop(key)))
    changed = {"reason": row["reason"], "ip": row["ip"]}
    for name in columns:
        if name in PERSONAL and name not in removed:
            removed[name] = _compact(value_digest(row[name]))
            changed[name] = "" if name == "reason" else None
    removed.update(keys=digests, by=by)
    return {"payload": out | {REMOVED: removed}, **changed}


def removal_of(row: dict[str, Any]) -> int | None:
    """The id of the audit row that recorded a removal from this row (None:
    nothing was removed from it)."""
    payload = row.get("payload")
    if isinstance(payload, dict) and isinstance(payload.get(REMOVED), dict):
        by = payload[REMOVED].get("by")
        return by if isinstance(by, int) else 0
    return None


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


Vouch = Callable[[list[tuple[int, int]]], str]


def walk(
    seals: Iterable[dict[str, Any]],
    rows_of: Callable[[list[int]], dict[int, dict[str, Any]]],
    vouched: Vouch | None = None,
    *,
    start: str = GENESIS,
    archived: Callable[[list[int]], bool] | None = None,
) -> tuple[int, str]:
    """(rows that hold, what breaks the chain or "") over the seals read in
    sequence order (`seq`, `previous`, `link`, `entries`), with `rows_of(ids)`
    giving the content of the audit rows that still exist. Names the first
    missing seal, the first row whose content or place changed (a reorder
    changes the links of the rows after it), the first deleted row, or a seal
    whose own links were altered. A row whose values were removed must be
    vouched for: `vouched([(row id, id of the row that says it removed them)])`
    returns what is wrong with the first that is not, or "".

    Archived rows (orchestration/audit/partitions.py): `rows_of` may give a
    row as {"_digest": its digest} (kept for rows that share a seal with rows
    still here), and a seal whose rows `archived(ids)` says are all archived
    is passed on its own links (its rows are verified from the archive file).
    `start` is the link before the first seal (a file's seals start mid-chain)."""
    previous, count = start, 0
    expected: int | None = 1 if start == GENESIS else None  # mid-chain: from the first seal on
    for seal in seals:
        number = seal["seq"]
        expected = number if expected is None else expected
        if number != expected:
            return count, (
                f"seal #{expected} is missing (deleted, or renumbered); the next one is seal "
                f"#{number}")  # fmt: skip
        if seal["previous"] != previous:
            return count, f"seal #{number} does not follow seal #{number - 1}: the seal was altered"
        entries = entries_of(bytes(seal["entries"]))
        if archived is not None and archived([pk for pk, _ in entries]):
            previous, expected, count = seal["link"], expected + 1, count + len(entries)
            continue
        rows = rows_of([pk for pk, _ in entries])
        removals = [(pk, by) for pk, row in rows.items()
                    if "_digest" not in row and (by := removal_of(row)) is not None]  # fmt: skip
        problem = vouched(sorted(removals)) if removals and vouched else ""
        if problem:
            return count, problem
        for pk, short in entries:
            row = rows.get(pk)
            if row is None:
                return count, (
                    f"row {pk} (seal #{number}) is missing: it was deleted, or its id changed"
                )
            previous = chain(previous, row["_digest"] if "_digest" in row else digest(row))
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
