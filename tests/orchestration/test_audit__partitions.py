"""The audit log by month on PostgreSQL: rows land in their month's
partition, months are made ahead, and an ended month is exported, verified
and dropped; the chain still verifies past it, and the file verifies offline
and links to what remains, while a changed file does not."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from orchestration import clock, jobs
from orchestration.audit import chain, partitions
from orchestration.models import AuditArchive, ProcessEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

JANUARY, FEBRUARY = date(2025, 1, 1), date(2025, 2, 1)


def where(row: ProcessEvent) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM orchestration_processevent "
                       "WHERE id = %s", [row.pk])  # fmt: skip
        return cursor.fetchone()[0]


def settle() -> None:
    while chain.seal_pending():
        pass
    for sweep in (jobs.fold_metrics, jobs.send_mail, jobs.fan_out_webhooks):
        sweep()


def log(month: date, n: int, **fields) -> list[ProcessEvent]:
    return [ProcessEvent.objects.create(kind="test.row", created_at=datetime(
        month.year, month.month, 10 + i, tzinfo=UTC), payload={"n": i, "who": "Zoë"}, **fields)
        for i in range(n)]  # fmt: skip


def test_rows_land_in_their_month_and_months_are_made_ahead() -> None:
    assert partitions.partitioned()
    now = datetime(2031, 5, 20, tzinfo=UTC)
    made = partitions.ensure_ahead(now)
    assert made == [f"orchestration_processevent_y2031m{m:02d}" for m in (5, 6, 7, 8)]
    assert partitions.ensure_ahead(now) == []  # once
    (row,) = log(date(2031, 6, 1), 1)
    assert where(row) == "orchestration_processevent_y2031m06"
    (far,) = log(date(2040, 1, 1), 1)  # a clock far off: the default partition keeps it
    assert where(far) == "orchestration_processevent_default"
    assert partitions.make(date(2040, 1, 1)) is False  # would take rows from the default


def test_an_ended_month_is_archived_and_both_chain_and_file_verify(tmp_path) -> None:
    assert partitions.make(JANUARY) and partitions.make(FEBRUARY)
    january = log(JANUARY, 3)
    february = log(FEBRUARY, 2)
    settle()
    # Before it ends, or while a row is not sealed, a month is not archived.
    with (
        clock.use(lambda: datetime(2025, 1, 20, tzinfo=UTC)),
        pytest.raises(partitions.ArchiveRefused, match="has not ended yet"),
    ):
        partitions.archive(JANUARY, tmp_path)
    late = ProcessEvent.objects.create(
        kind="test.late", created_at=datetime(2025, 1, 30, tzinfo=UTC)
    )
    with pytest.raises(partitions.ArchiveRefused, match="1 row"):
        partitions.archive(JANUARY, tmp_path)
    settle()

    call_command("archive_audit", "--before", "2025-02", "--to", str(tmp_path))
    record = AuditArchive.objects.get()
    assert (record.partition, record.rows) == ("orchestration_processevent_y2025m01", 4)
    assert record.id_ranges[0][0] == january[0].pk
    assert not ProcessEvent.objects.filter(pk__in=[r.pk for r in [*january, late]]).exists()
    assert ProcessEvent.objects.filter(pk__in=[r.pk for r in february]).count() == 2
    assert not any(p.month == JANUARY for p in partitions.partitions())
    settle()  # the audit.archived row
    verdict = chain.verify()
    assert verdict.ok, verdict.broken
    assert verdict.unsealed == 0

    path = tmp_path / record.file_name
    good = partitions.verify_file(path, against_database=True)
    assert (good.rows, good.broken, good.links_to_database) == (4, "", True)
    call_command("verify_audit", "--archive", str(path))

    # A changed row in the file, or a row cut from it, is found.
    with gzip.open(path, "rt", encoding="utf-8") as data:
        lines = data.read().splitlines()
    changed = json.loads(lines[2])
    changed["payload"]["who"] = "Zoe"
    tampered = tmp_path / "tampered.jsonl.gz"
    with gzip.open(tampered, "wt", encoding="utf-8") as out:
        out.write("\n".join([lines[0], lines[1], json.dumps(changed), *lines[3:]]) + "\n")
    broken = partitions.verify_file(tampered)
    assert f"row {changed['id']} (seal #" in broken.broken
    assert "does not match its seal" in broken.broken
    with pytest.raises(CommandError, match="broken"):
        call_command("verify_audit", "--archive", str(tampered))
    cut = tmp_path / "cut.jsonl.gz"
    header = json.loads(lines[0])
    header["rows"] = 3
    with gzip.open(cut, "wt", encoding="utf-8") as out:
        out.write("\n".join([json.dumps(header), *lines[1:3], *lines[4:]]) + "\n")
    assert "is missing" in partitions.verify_file(cut).broken


def test_sqlite_or_not_the_command_says_what_it_can(tmp_path) -> None:
    with pytest.raises(CommandError, match="--before: 'soon' is not YYYY-MM"):
        call_command("archive_audit", "--before", "soon", "--to", str(tmp_path))
