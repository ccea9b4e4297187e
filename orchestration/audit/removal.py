"""Removing values from audit rows without breaking the chain.

The seal covers each personal value's digest, not the value (hashchain.py),
so a removal replaces the values by a marker that keeps their digests: the
chain verifies as before, and a changed or dropped digest still breaks it.
Each removal first writes its own audit row (`data.removed`: the rule, the
rows it names), and every marker points at it, so `verify_audit` also refuses
a marker no removal vouches for.

Only settled rows are touched: sealed, and read by every consumer of the log
(mail, webhooks, the metrics fold), so nothing is sent or counted from a row
after its values went. On PostgreSQL the audit table's trigger allows this
one kind of UPDATE, and only in a transaction that says so (migration 0038).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Min, Q

from orchestration.audit.chain import CONTENT, unsealed
from orchestration.audit.hashchain import PERSONAL, REMOVED, without_values
from orchestration.audit.kinds import AuditKind
from orchestration.models import AuditSeal, OutboxCursor, ProcessEvent

# Payload keys that say what happened, not about whom: kept by a removal so
# that an instance's history still reads (which steps, which outcome, how
# long). Everything else in a payload (variables, titles, comments, names,
# addresses, messages' contents) goes.
KEPT_KEYS = frozenset({
    "entered", "moves", "seconds", "attempt", "lateness_s", "timer_kind", "outcome", "task",
    "version", "level", "event", "type", "policy", "code", "number", "content_hash", "held",
    "comment", "parent",
})  # fmt: skip


# The cursors that read the log (side_effects/cursor.py); "sender" is a lock row.
READERS = ("mail", "webhooks", "metrics")


def settled() -> Q:
    """The audit rows every reader of the log is done with: sealed, and in a
    seal before the first one any cursor still has to read."""
    readers = OutboxCursor.objects.filter(name__in=READERS)
    waiting = readers.aggregate(first=Min("position"))["first"]
    rows = ~unsealed()
    if waiting is not None:
        first_unread = AuditSeal.objects.filter(seq__gte=waiting).aggregate(low=Min("first_id"))[
            "low"
        ]
        if first_unread is not None:
            rows &= Q(pk__lt=first_unread)
    return rows


@dataclass(frozen=True)
class Settled:
    """settled() as a test of one id, read once (a batch asks it per row)."""

    below: int | None  # the first id a reader still has to read (None: none waits)
    high_water: int
    holes: tuple[tuple[int, int], ...]

    @classmethod
    def now(cls) -> Settled:
        last = AuditSeal.objects.order_by("-seq").values("high_water", "holes").first()
        high, holes = (last["high_water"], last["holes"]) if last else (0, [])
        waiting = OutboxCursor.objects.filter(name__in=READERS).aggregate(
            first=Min("position"))["first"]  # fmt: skip
        below = None
        if waiting is not None:
            below = AuditSeal.objects.filter(seq__gte=waiting).aggregate(low=Min("first_id"))["low"]
        return cls(below, high, tuple((first, last) for first, last, *_ in holes))

    def holds(self, pk: int) -> bool:
        if pk > self.high_water or any(first <= pk <= last for first, last in self.holes):
            return False  # not sealed yet
        return self.below is None or pk < self.below


def ranges(ids: Iterable[int]) -> list[list[int]]:
    """Sorted ids as [first, last] runs of consecutive ids."""
    out: list[list[int]] = []
    for pk in sorted(set(ids)):
        if out and out[-1][1] == pk - 1:
            out[-1][1] = pk
        else:
            out.append([pk, pk])
    return out


def remove_values(
    rows: Collection[int], *, rule: str, now: datetime, keep: Collection[str] = KEPT_KEYS,
    record: dict[str, Any] | None = None, instance_id: int | None = None,
) -> int:  # fmt: skip
    """Remove the personal values (payload keys not in `keep`, the reason, the
    client address) of the audit rows `rows` (ids of settled rows), in the
    caller's transaction; return how many rows changed. Writes the
    `data.removed` row first, with `record` added to its payload."""
    found = list(ProcessEvent.objects.filter(pk__in=rows).order_by("pk").values(*CONTENT))
    changes = []
    for row in found:
        payload = row["payload"] if isinstance(row["payload"], dict) else {}
        keys = [k for k in payload if k not in keep and k != REMOVED]
        columns = [c for c in PERSONAL if row[c] not in ("", None)]
        if keys or columns:
            changes.append((row, keys, columns))
    if not changes:
        return 0
    marker = ProcessEvent.objects.create(
        kind=AuditKind.DATA_REMOVED, instance_id=instance_id, created_at=now,
        payload={"rule": rule, "rows": ranges(r["id"] for r, _, _ in changes), **(record or {})},
    )  # fmt: skip
    values = []
    for row, keys, columns in changes:
        new = without_values(row, keys, columns, by=marker.pk)
        values.append((json.dumps(new["payload"]), new["reason"], new["ip"], row["id"],
                       row["created_at"]))  # fmt: skip
    _write(values)
    return len(values)


Change = tuple[str, str, "str | None", int, datetime]


def _write(values: list[Change]) -> None:
    """The rows' new values; by id and time, so that PostgreSQL looks in one
    month's partition for each."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL orchestration.removing = 'on'")
            cursor.executemany(
                "UPDATE orchestration_processevent SET payload = %s::jsonb, reason = %s, "
                "ip = %s::inet WHERE id = %s AND created_at = %s",
                values,
            )
            cursor.execute("SET LOCAL orchestration.removing = 'off'")
        else:  # SQLite keeps times as text in its own form
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                "UPDATE orchestration_processevent SET payload = %s, reason = %s, ip = %s "
                "WHERE id = %s AND created_at = %s",
                [(*change[:4], adapt(change[4])) for change in values],
            )
