from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orchestration import sensitive
from orchestration.retention import rotation


class Command(BaseCommand):
    help = (
        "Re-encrypt every sensitive value with the newest key of ORCHESTRATION_ENCRYPTION_KEYS "
        "(the first); then say how many are left under older keys. Drop an old key only "
        "when none is. Exit status 1 when a value no configured key opens was found."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch", type=int, default=100, help="instances per batch")

    def handle(self, *args: Any, batch: int, **options: Any) -> None:
        if not sensitive.configured():
            raise CommandError("ORCHESTRATION_ENCRYPTION_KEYS is empty: nothing can be encrypted")
        if batch < 1:
            raise CommandError("--batch: at least 1")
        report = rotation.rotate(batch=batch)
        rows = ", ".join(f"{n} {table}" for table, n in sorted(report.rows.items())) or "none"
        self.stdout.write(
            f"re-encrypted {report.values} value(s) of {report.instances} instance(s); rows: {rows}"
        )
        left = rotation.left_under_older_keys()
        self.stdout.write(f"{left} value(s) left under older keys")
        if report.unreadable:
            raise CommandError(
                f"{len(report.unreadable)} instance(s) hold a value no configured key opens "
                f"(was its key dropped?): {', '.join(map(str, report.unreadable[:20]))}",
                returncode=1,
            )
