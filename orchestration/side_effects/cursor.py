"""Reading the sealed audit log in chain order, one cursor per consumer.

A consumer (mail, the webhooks' fan-out) locks its OutboxCursor row (others
skip: one sweep at a time), reads the entries after it, handles their rows and
moves the cursor past what it handled: one row written per sweep, however many
audit rows it sent. The chain's order is gap-free and a late commit is sealed
after what was sealed before, so a row is never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orchestration.audit.hashchain import entries_of
from orchestration.models import AuditSeal, OutboxCursor


@dataclass(frozen=True)
class Entry:
    seal: int
    index: int  # its place in the seal
    row_id: int
    last: bool = False  # the seal's last entry


def locked(name: str, **more: Any) -> OutboxCursor | None:
    """The cursor row, locked (None while another holds it, or when `more`
    does not match); made on first use."""

    def find() -> OutboxCursor | None:
        rows = OutboxCursor.objects.select_for_update(skip_locked=True)
        return rows.filter(name=name, **more).first()

    found = find()
    if found is None and not OutboxCursor.objects.filter(name=name).exists():
        OutboxCursor.objects.get_or_create(name=name, defaults={"position": 1})
        found = find()
    return found


def read(cursor: OutboxCursor, limit: int) -> list[Entry]:
    """Up to `limit` entries after the cursor, in chain order."""
    out: list[Entry] = []
    position, offset = max(cursor.position, 1), cursor.offset
    while len(out) < limit:
        seals = list(
            AuditSeal.objects.filter(seq__gte=position)
            .order_by("seq")
            .values_list("seq", "entries")[:16]
        )
        for seq, entries in seals:
            start = offset if seq == position else 0
            every = entries_of(bytes(entries))
            rows = every[start : start + limit - len(out)]
            out += [Entry(seq, start + i, pk, start + i == len(every) - 1)
                    for i, (pk, _) in enumerate(rows)]  # fmt: skip
            if len(out) >= limit:
                break
        if len(seals) < 16 or len(out) >= limit:
            break
        position, offset = seals[-1][0] + 1, 0
    return out


def advance(cursor: OutboxCursor, past: Entry) -> None:
    """Move the cursor past `past` (handled, or given up); past its seal when it
    was the last entry, so that the next read starts at the next seal."""
    if past.last:
        cursor.position, cursor.offset = past.seal + 1, 0
    else:
        cursor.position, cursor.offset = past.seal, past.index + 1
    cursor.save(update_fields=["position", "offset"])


def skip_to_end(cursor: OutboxCursor) -> None:
    """Past everything sealed so far (nobody listens)."""
    newest = AuditSeal.objects.order_by("-seq").values_list("seq", flat=True).first()
    if newest is not None and cursor.position <= newest:
        cursor.position, cursor.offset = newest + 1, 0
        cursor.save(update_fields=["position", "offset"])
