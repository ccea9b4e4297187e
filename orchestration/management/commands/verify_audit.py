from __future__ import annotations

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

    def handle(self, *args: Any, seal: bool, **options: Any) -> None:
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
