from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orchestration.audit import chain as audit_chain


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain: names the first changed, deleted or reordered "
        "row and exits non-zero; reports how many rows wait to be sealed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--seal", action="store_true", help="seal the pending rows first (as the worker does)"
        )
        parser.add_argument(
            "--archive", metavar="FILE",
            help="verify an archived month (archive_audit) instead: offline, and that it links "
                 "to the seals this database keeps",
        )  # fmt: skip

    def handle(self, *args: Any, seal: bool, archive: str | None, **options: Any) -> None:
        if archive:
            self._archive(Path(archive))
            return
        if seal:
            while audit_chain.seal_pending():
                pass
        verdict = audit_chain.verify()
        backlog = f"{verdict.unsealed} row(s) not sealed yet"
        if not verdict.ok:
            raise CommandError(
                f"audit chain broken after {verdict.sealed} good row(s): {verdict.broken}; "
                + backlog
            )
        self.stdout.write(f"audit chain intact: {verdict.sealed} sealed row(s); {backlog}")

    def _archive(self, path: Path) -> None:
        from orchestration.audit import partitions

        if not path.is_file():
            raise CommandError(f"--archive: no file {path}")
        verdict = partitions.verify_file(path, against_database=True)
        if verdict.broken:
            raise CommandError(
                f"archive {path.name} broken after {verdict.rows} good row(s): {verdict.broken}"
            )
        self.stdout.write(
            f"archive {path.name} intact: {verdict.rows} row(s) hold, and its seals are this "
            "database's: it links to what remains"
        )
