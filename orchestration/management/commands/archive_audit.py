from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orchestration.audit import partitions


class Command(BaseCommand):
    help = (
        "PostgreSQL: export the audit log's months before --before to compressed JSON lines "
        "in --to (one file per month, with its chain anchors), verify each file, record it and "
        "drop the month's partition. `verify_audit --archive FILE` verifies a file offline. "
        "Without --before: list the partitions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", help="YYYY-MM: archive every month before this one")
        parser.add_argument("--to", help="the folder for the files")

    def handle(self, *args: Any, before: str | None, to: str | None, **options: Any) -> None:
        if not partitions.partitioned():
            raise CommandError(
                "the audit log is one table here (SQLite, or not migrated): nothing to archive"
            )
        if before is None:
            for part in partitions.partitions():
                label = f"{part.month:%Y-%m}" if part.month else "default"
                self.stdout.write(f"{part.name}\t{label}\t~{part.rows} rows")
            return
        try:
            year, month = (int(x) for x in before.split("-"))
            limit = date(year, month, 1)
        except ValueError as exc:
            raise CommandError(f"--before: {before!r} is not YYYY-MM") from exc
        if not to:
            raise CommandError("--to: name the folder for the files")
        done = 0
        for part in partitions.partitions():
            if part.month is None or part.month >= limit:
                continue
            try:
                record = partitions.archive(part.month, Path(to))
            except partitions.ArchiveRefused as exc:
                raise CommandError(f"{part.month:%Y-%m}: {exc}") from exc
            self.stdout.write(
                f"{record.partition}: {record.rows} rows -> {Path(to) / record.file_name} "
                f"(sha256 {record.file_sha256[:16]}...), partition dropped"
            )
            done += 1
        if not done:
            self.stdout.write(f"no month before {before} to archive")
