from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from orchestration import clock
from orchestration.retention import purge


class Command(BaseCommand):
    help = (
        "Remove the personal data of ended instances past their retention (the definition's "
        "`retention`, else ORCHESTRATION_RETENTION), as the 15-minute schedule does; "
        "instances on legal hold are left alone. --dry-run counts what is due."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what is due, remove nothing"
        )
        parser.add_argument(
            "--seconds", type=float, default=300.0, help="stop after this long (default 300)"
        )
        parser.add_argument("--batch", type=int, default=200, help="instances per round")

    def handle(self, *args: Any, dry_run: bool, seconds: float, batch: int, **options: Any) -> None:
        now = clock.now()
        if dry_run:
            due = purge.due(now).count()
            self.stdout.write(f"{due} ended instance(s) past their retention at "
                              f"{timezone.localtime(now):%Y-%m-%d %H:%M %Z}")  # fmt: skip
            return
        report = purge.purge_due(seconds=max(seconds, 0.0), batch=max(batch, 1))
        counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.removed.counts().items())
        left = purge.due(clock.now()).count()
        self.stdout.write(
            f"purged: {counts}; {report.waiting} waiting for the log's readers, "
            f"{report.failed} failed (see Sweep failures); {left} still due"
        )
