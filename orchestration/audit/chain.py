"""The audit log's hash chain: tamper-evident without serialising the engine,
and without rewriting a row.

Writers only insert rows (the hot path takes no chain lock). A background
sweep seals committed rows afterwards into an AuditSeal: it takes the rows it
has not sealed yet, in id order, and links each to the one before,

    link = sha256(previous link + sha256(canonical content of the row))

so each link covers the row's content and everything sealed before it. The
seal keeps each row's id with the start of its link, and the last link whole.

Which rows are new: those above the last seal's `high_water`, and those in
its `holes`, ids below it that were not visible when it was sealed (their
transaction began first and committed last, or rolled back). A late row is
sealed by the next sweep after it commits, after rows with higher ids: never
skipped, never a break (nothing is inserted into the sealed part). A hole is
dropped once no transaction that was open when it was noticed is still open
(PostgreSQL's pg_stat_activity; the audit writers' role must see each other's
sessions there, as the same role does): its row then either is visible or
never will be. SQLite commits ids in order, so it has none.

One sweep at a time: on PostgreSQL an advisory lock (others skip), on SQLite
the write lock. `verify()` walks the seals in order and names the first row
whose content, place or presence no longer matches; on PostgreSQL triggers
refuse UPDATE and DELETE of audit rows and seals (migration 0025), so
tampering needs to go around the database.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Q

from orchestration import clock, sweeps
from orchestration.audit.hashchain import (
    CONTENT,
    GENESIS,
    chain,
    digest,
    entries_of,
    link_rows,
    walk,
)
from orchestration.audit.kinds import AuditKind
from orchestration.models import AuditSeal, ProcessEvent

__all__ = [
    "CONTENT", "GENESIS", "Verdict", "chain", "digest", "seal_pending", "seals_of", "unsealed",
    "verify",
]  # fmt: skip

_LOCK_KEY = 7_250_311  # pg advisory lock: "the audit sealer"
SEALING = "audit sealing"
_NOW = "SELECT extract(epoch FROM clock_timestamp())::float8"
Hole = list[Any]  # [first id, last id, noticed (Unix seconds, the database's clock)]


def seal_pending(*, limit: int = 2000) -> int:
    """Seal up to `limit` committed rows not sealed yet; return how many.
    Returns 0 at once while another sweep is sealing."""
    with transaction.atomic():
        postgres = connection.vendor == "postgresql"
        if postgres and not _scalar("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY]):
            return 0
        last = AuditSeal.objects.order_by("-seq").defer("entries").first()
        seq, previous, high, holes = (
            (last.seq, last.link, last.high_water, last.holes) if last else (0, GENESIS, 0, [])
        )
        # Before the rows are read: a hole noticed before the oldest transaction
        # open now began cannot fill any more once this read does not see it.
        horizon = _oldest_open_transaction() if postgres else None
        candidates = ProcessEvent.objects.filter(_beyond(high, holes))
        rows = list(
            sweeps.skip_held(candidates, SEALING, clock.now())
            .order_by("pk")
            .values(*CONTENT)[:limit]
        )
        noticed = (
            _scalar("SELECT extract(epoch FROM clock_timestamp())::float8") if postgres else 0.0
        )
        # A row whose content cannot be digested stays unsealed (verify_audit
        # counts it) and is given up at once: it would fail the same way again.
        digests = sweeps.each(
            SEALING, rows, lambda row: (row["id"], digest(row)), row_id=lambda row: row["id"],
            now=clock.now(), retry=False, savepoint=False,
        )  # fmt: skip
        seen = [row["id"] for row in rows]
        complete = len(rows) < limit
        top = max([high, *seen])
        kept = [
            hole
            for hole in _without(holes, set(seen))
            if not (complete and (horizon is None or hole[2] < horizon))
        ]
        # Ids passed over: a transaction still open may commit them (a row that
        # was given up lands here too, and goes with its hole).
        gaps = _without([[high + 1, top, noticed]], set(seen))
        if not digests and top == high and kept == holes:
            return 0
        entries, link = link_rows(previous, digests)
        ids = [pk for pk, _ in digests]
        AuditSeal.objects.create(
            seq=seq + 1, count=len(ids), first_id=min(ids, default=top),
            last_id=max(ids, default=top), entries=entries, previous=previous, link=link,
            high_water=top, holes=kept + gaps,
        )  # fmt: skip
    return len(ids)


def unsealed() -> Q:
    """The audit rows not sealed yet (or given up by the sealer), as a filter."""
    last = AuditSeal.objects.order_by("-seq").values("high_water", "holes").first()
    return _beyond(last["high_water"], last["holes"]) if last else Q()


def _beyond(high: int, holes: list[Hole]) -> Q:
    found = Q(pk__gt=high)
    for first, last, _ in holes:
        found |= Q(pk__range=(first, last))
    return found


def _without(holes: Iterable[Hole], taken: set[int]) -> list[Hole]:
    """The hole ranges less the ids in `taken`, split where needed."""
    out: list[Hole] = []
    for first, last, noticed in holes:
        start = first
        for pk in sorted(i for i in taken if first <= i <= last):
            if pk > start:
                out.append([start, pk - 1, noticed])
            start = pk + 1
        if start <= last:
            out.append([start, last, noticed])
    return out


def _oldest_open_transaction() -> float | None:
    oldest: float | None = _scalar(
        "SELECT extract(epoch FROM min(xact_start))::float8 FROM pg_stat_activity "
        "WHERE pid <> pg_backend_pid() AND datname = current_database() "
        "AND backend_type = 'client backend' AND xact_start IS NOT NULL"
    )
    return oldest


def _scalar(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


@dataclass(frozen=True)
class Verdict:
    sealed: int
    unsealed: int
    broken: str  # "" when the chain holds; else what is wrong, naming the row

    @property
    def ok(self) -> bool:
        return not self.broken


def _seals() -> Iterator[dict[str, Any]]:
    rows = AuditSeal.objects.order_by("seq").values("seq", "previous", "link", "entries")
    for seal in rows.iterator(chunk_size=20):
        yield dict(seal)


def _rows_of(ids: list[int]) -> dict[int, dict[str, Any]]:
    found = ProcessEvent.objects.filter(pk__in=ids).values(*CONTENT)
    return {row["id"]: row for row in found.iterator(chunk_size=2000)}


class _Removals:
    """Which rows each removal record (a `data.removed` audit row) names, read
    once per record: a purge of a million rows has a few thousand records."""

    def __init__(self, archives: _Archives | None = None) -> None:
        self.named: dict[int, list[list[int]] | None] = {}
        self.archives = archives

    def __call__(self, pairs: list[tuple[int, int]]) -> str:
        wanted = {by for _, by in pairs} - self.named.keys()
        if wanted:
            found = ProcessEvent.objects.filter(pk__in=wanted, kind=AuditKind.DATA_REMOVED)
            for pk, payload in found.values_list("pk", "payload"):
                ranges = payload.get("rows") if isinstance(payload, dict) else None
                self.named[pk] = ranges if isinstance(ranges, list) else []
            for pk in wanted - self.named.keys():
                # A removal row in an archived month: its file holds it.
                archived = self.archives is not None and self.archives.holds(pk)
                self.named[pk] = [[0, 2**63 - 1]] if archived else None
        for pk, by in pairs:
            ranges = self.named[by]
            if ranges is None:
                return f"row {pk} has values removed, but row {by} records no removal"
            if not any(first <= pk <= last for first, last in ranges):
                return f"row {pk} has values removed, but removal row {by} does not name it"
        return ""


class _Archives:
    """The months exported and dropped (audit/partitions.py): which ids they
    took, and the digests kept of those that share a seal with rows here."""

    def __init__(self) -> None:
        from orchestration.models import AuditArchive

        self.ranges: list[tuple[int, int]] = []
        self.digests: dict[int, str] = {}
        self.count: dict[str, int] = {}
        for name, rows, ranges, shared in AuditArchive.objects.values_list(
            "partition", "rows", "id_ranges", "shared"
        ):
            self.count[name] = rows
            self.ranges += [(first, last) for first, last in ranges]
            self.digests.update({int(pk): value for pk, value in shared.items()})
        self.ranges.sort()
        self.starts = [first for first, _ in self.ranges]

    def holds(self, pk: int) -> bool:
        at = bisect.bisect_right(self.starts, pk) - 1
        return at >= 0 and self.ranges[at][0] <= pk <= self.ranges[at][1]

    def whole(self, ids: list[int]) -> bool:
        return bool(self.ranges) and all(self.holds(pk) for pk in ids)

    def rows_of(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        found = _rows_of(ids)
        for pk in ids:
            if pk not in found and pk in self.digests:
                found[pk] = {"_digest": self.digests[pk]}
        return found


def verify() -> Verdict:
    """Walk the chain seal by seal (see hashchain.walk); memory for one seal.
    Seals whose rows were all archived are passed on their links (verify
    those rows with `verify_audit --archive FILE`)."""
    archives = _Archives()
    count, broken = walk(_seals(), archives.rows_of, _Removals(archives),
                         archived=archives.whole if archives.ranges else None)  # fmt: skip
    gone = sum(archives.count.values()) if archives.ranges else 0  # counted, not in the table
    return Verdict(count, max(0, ProcessEvent.objects.count() + gone - count), broken)


def seals_of(ids: Iterable[int]) -> dict[int, int]:
    """The number of the seal that holds each of these rows (rows not sealed
    yet are left out); for the audit page and its export."""
    wanted = set(ids)
    if not wanted:
        return {}
    found: dict[int, int] = {}
    seals = AuditSeal.objects.filter(first_id__lte=max(wanted), last_id__gte=min(wanted))
    for seq, entries in seals.values_list("seq", "entries").iterator(chunk_size=20):
        for pk, _ in entries_of(bytes(entries)):
            if pk in wanted:
                found[pk] = seq
    return found
