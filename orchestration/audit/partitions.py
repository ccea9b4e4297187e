"""The audit log by month (PostgreSQL; migration 0041): partitions made
ahead, and old months exported to compressed JSON lines and dropped.

An archive file is gzip'd JSON lines: a header, then one line per row (the
columns the seal covers, `created_at` in ISO 8601 UTC). The header holds the
month, the row count and id range, and the chain's anchors: every seal that
holds a row of the month (number, link before, last link, entries) and the
digests of the rows of those seals that are not in the month. With it,
`verify_audit --archive FILE` recomputes every link offline and compares the
seals with the database's (proving the file links to what remains), and the
database keeps what `verify_audit` needs to walk past the dropped month
(AuditArchive).

A month is archived only once it has ended, every row of it is sealed and
read by every reader of the log, and no row of it is on legal hold.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from orchestration import clock
from orchestration.audit.hashchain import CONTENT, digest, entries_of, walk
from orchestration.audit.kinds import AuditKind
from orchestration.models import AuditArchive, AuditSeal, ProcessEvent

TABLE = "orchestration_processevent"
AHEAD = 3  # months made ahead of the current one
FORMAT = "process-engine audit archive 1"


class ArchiveRefused(Exception):
    """The month cannot be archived (yet): the message says why."""


@dataclass(frozen=True)
class Partition:
    name: str
    month: date | None  # None: the DEFAULT partition
    rows: int


def partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = %s::regclass", [TABLE])
        return cursor.fetchone() is not None


def add_months(day: date, n: int) -> date:
    month = day.month - 1 + n
    return day.replace(year=day.year + month // 12, month=month % 12 + 1, day=1)


def name_of(month: date) -> str:
    return f"{TABLE}_y{month:%Y}m{month:%m}"


def partitions() -> list[Partition]:
    """Every partition, oldest month first (the DEFAULT one last), with its
    row count as the planner estimates it."""
    if not partitioned():
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, c.reltuples::bigint FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass",
            [TABLE],
        )
        found = []
        for name, rows in cursor.fetchall():
            suffix = name.removeprefix(f"{TABLE}_")
            month = None
            if suffix.startswith("y") and "m" in suffix:
                month = date(int(suffix[1:5]), int(suffix[6:8]), 1)
            found.append(Partition(name, month, max(rows, 0)))
    return sorted(found, key=lambda p: (p.month is None, p.month or date.min))


def ensure_ahead(now: datetime | None = None) -> list[str]:
    """Make the partitions of this month and the next AHEAD ones that are
    missing; returns the names made. A month whose rows already sit in the
    DEFAULT partition (written with a clock far off) is left there."""
    if not partitioned():
        return []
    today = (now or clock.now()).astimezone(UTC).date().replace(day=1)
    have = {p.month for p in partitions()}
    return [name_of(m) for m in (add_months(today, n) for n in range(AHEAD + 1))
            if m not in have and make(m)]  # fmt: skip


def make(month: date) -> bool:
    """Make one month's partition; False when its rows already sit in the
    DEFAULT partition (PostgreSQL refuses a partition that would take rows
    from it), or it exists."""
    month = month.replace(day=1)
    if not partitioned() or any(p.month == month for p in partitions()):
        return False
    start, end = _bounds(month)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {TABLE}_default WHERE created_at >= %s AND created_at < %s "  # noqa: S608
            "LIMIT 1",
            [start, end],
        )
        if cursor.fetchone():
            return False
        cursor.execute(_create_sql(month))
    return True


def _bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end_day = add_months(month, 1)
    return start, datetime(end_day.year, end_day.month, 1, tzinfo=UTC)


def _create_sql(month: date) -> str:
    start, end = _bounds(month)
    return (
        f"CREATE TABLE {name_of(month)} PARTITION OF {TABLE} "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


# ---- archiving --------------------------------------------------------------------------
def archive(month: date, folder: Path, *, now: datetime | None = None) -> AuditArchive:
    """Export one ended month to `folder`, verify the file, record it and drop
    the partition. Raises ArchiveRefused saying why it cannot (yet)."""
    from orchestration.audit.removal import ranges, settled
    from orchestration.retention.holds import held_q

    now = now or clock.now()
    month = month.replace(day=1)
    name = name_of(month)
    if not any(p.name == name for p in partitions()):
        raise ArchiveRefused(f"no partition {name} (archived already, or never made)")
    start, end = _bounds(month)
    if end > now:
        raise ArchiveRefused(f"{month:%Y-%m} has not ended yet")
    rows = ProcessEvent.objects.filter(created_at__gte=start, created_at__lt=end)
    ids = list(rows.order_by("pk").values_list("pk", flat=True))
    waiting = len(ids) - rows.filter(settled()).count()
    if waiting:
        raise ArchiveRefused(
            f"{waiting} row(s) of {month:%Y-%m} are not sealed or not read by mail, webhooks "
            "and the metrics yet"
        )
    from orchestration.models import ProcessInstance

    held = rows.filter(instance__in=ProcessInstance.objects.filter(held_q())).count()
    if held:
        raise ArchiveRefused(f"{held} row(s) of {month:%Y-%m} belong to instances on legal hold")
    seals = _seals_holding(set(ids))
    outside = _outside_digests(seals, set(ids))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl.gz"
    header = {
        "format": FORMAT, "partition": name, "from": start.isoformat(), "until": end.isoformat(),
        "rows": len(ids), "first_id": ids[0] if ids else None,
        "last_id": ids[-1] if ids else None, "seals": seals, "outside": outside,
    }  # fmt: skip
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(json.dumps(header, sort_keys=True) + "\n")
        for row in rows.order_by("pk").values(*CONTENT).iterator(chunk_size=5000):
            out.write(_line(row) + "\n")
    problems = verify_file(path)
    if problems.broken:
        path.unlink()
        raise ArchiveRefused(f"the export does not verify: {problems.broken}")
    shared = _shared_digests(path, seals, set(ids))
    with transaction.atomic():
        record = AuditArchive.objects.create(
            partition=name, starts=start, ends=end, rows=len(ids),
            first_id=ids[0] if ids else None, last_id=ids[-1] if ids else None,
            id_ranges=ranges(ids), shared=shared, file_name=path.name,
            file_sha256=_sha256(path), archived_at=now,
        )  # fmt: skip
        with connection.cursor() as cursor:
            # Checks deferred to commit (foreign keys) run now: a table with
            # pending trigger events cannot be dropped.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {TABLE} DETACH PARTITION {name}")
            cursor.execute(f"DROP TABLE {name}")
        ProcessEvent.objects.create(
            kind=AuditKind.AUDIT_ARCHIVED, created_at=now,
            payload={"partition": name, "rows": len(ids), "file_sha256": record.file_sha256,
                     "seals": [s["seq"] for s in seals][:1] + [s["seq"] for s in seals][-1:]},
        )  # fmt: skip
    return record


def _line(row: dict[str, Any]) -> str:
    values = dict(row)
    values["created_at"] = values["created_at"].astimezone(UTC).isoformat()
    return json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)


def _seals_holding(ids: set[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    low, high = min(ids), max(ids)
    found = []
    candidates = AuditSeal.objects.filter(first_id__lte=high, last_id__gte=low).order_by("seq")
    for seal in candidates.values("seq", "previous", "link", "entries").iterator(chunk_size=20):
        entries = bytes(seal["entries"])
        if any(pk in ids for pk, _ in entries_of(entries)):
            found.append({"seq": seal["seq"], "previous": seal["previous"],
                          "link": seal["link"], "entries": entries.hex()})  # fmt: skip
    return found


def _outside_digests(seals: list[dict[str, Any]], ids: set[int]) -> dict[str, str]:
    """Digests of the rows in these seals that are not archived with the month
    (a row still here, or one archived before: from its record)."""
    others = {pk for s in seals for pk, _ in entries_of(bytes.fromhex(s["entries"]))} - ids
    found = {
        str(row["id"]): digest(row)
        for row in ProcessEvent.objects.filter(pk__in=others).values(*CONTENT)
    }
    for record in AuditArchive.objects.all():
        for pk, value in record.shared.items():
            if int(pk) in others and pk not in found:
                found[pk] = value
    return found


def _shared_digests(path: Path, seals: list[dict[str, Any]], ids: set[int]) -> dict[str, str]:
    """Digests of the month's rows that sit in a seal with rows not of the month."""
    shared: set[int] = set()
    for seal in seals:
        members = {pk for pk, _ in entries_of(bytes.fromhex(seal["entries"]))}
        if members - ids:
            shared |= members & ids
    found = {}
    for row in _rows_of_file(path):
        if row["id"] in shared:
            found[str(row["id"])] = digest(row)
    return found


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


# ---- verifying a file ---------------------------------------------------------------------
@dataclass(frozen=True)
class FileVerdict:
    rows: int
    broken: str  # "" when it holds
    links_to_database: bool | None  # None: not checked (no database's seals to compare)


def _header(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as data:
        header: dict[str, Any] = json.loads(data.readline())
    if header.get("format") != FORMAT:
        raise ValueError(f"{path.name}: not an audit archive ({FORMAT!r} expected)")
    return header


def _rows_of_file(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as data:
        data.readline()
        for line in data:
            row = json.loads(line)
            row["created_at"] = datetime.fromisoformat(row["created_at"])
            yield row


def verify_file(path: Path, *, against_database: bool = False) -> FileVerdict:
    """Recompute every link the file's seals hold from its rows (and the
    digests of their other rows, from the header): the file is whole and in
    its place in the chain. With `against_database`, the database's seals
    must be the very same ones (the file links to what remains), and the
    file must be the one the archive record names."""
    try:
        header = _header(path)
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        return FileVerdict(0, str(exc), None)
    rows = {row["id"]: row for row in _rows_of_file(path)}
    if len(rows) != header["rows"]:
        return FileVerdict(len(rows), f"the file holds {len(rows)} rows, its header says "
                           f"{header['rows']}", None)  # fmt: skip
    outside = {int(k): v for k, v in header["outside"].items()}
    seals = [{**s, "entries": bytes.fromhex(s["entries"])} for s in header["seals"]]
    placed = {pk for s in seals for pk, _ in entries_of(s["entries"])}
    if set(rows) - placed:
        return FileVerdict(len(rows), f"row {min(set(rows) - placed)} is in no seal of the file",
                           None)  # fmt: skip
    count, broken = 0, ""
    for seal in seals:  # each from its own link before: a month's seals need not follow
        held, broken = walk([seal], lambda pks: _lookup(pks, rows, outside), start=seal["previous"])
        count += held
        if broken:
            break
    linked: bool | None = None
    if against_database and not broken:
        stored = {
            s["seq"]: s
            for s in AuditSeal.objects.filter(seq__in=[s["seq"] for s in seals]).values(
                "seq", "previous", "link", "entries"
            )
        }
        linked = all(
            seq in stored and stored[seq]["previous"] == s["previous"]
            and stored[seq]["link"] == s["link"] and bytes(stored[seq]["entries"]) == s["entries"]
            for seq, s in ((s["seq"], s) for s in seals)
        )  # fmt: skip
        record = AuditArchive.objects.filter(partition=header["partition"]).first()
        if record is not None and record.file_sha256 != _sha256(path):
            broken = (
                f"the file is not the one archived as {header['partition']} (its SHA-256 differs)"
            )
        elif not linked:
            broken = "the file's seals are not the database's: it does not link to what remains"
    return FileVerdict(len(rows) if not broken else count, broken, linked)


def _lookup(pks: list[int], rows: dict[int, dict[str, Any]],
            outside: dict[int, str]) -> dict[int, dict[str, Any]]:  # fmt: skip
    found: dict[int, dict[str, Any]] = {}
    for pk in pks:
        if pk in rows:
            found[pk] = rows[pk]
        elif pk in outside:
            found[pk] = {"_digest": outside[pk]}
    return found
