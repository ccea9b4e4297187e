from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orchestration.models import ProcessVersion


class Command(BaseCommand):
    help = "Print a definition's source as stored: the newest version, or --version N."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # Our --version N (a definition version) replaces Django's --version.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key")
        parser.add_argument("--version", type=int, dest="number", metavar="N")

    def handle(self, *args: Any, key: str, number: int | None, **options: Any) -> None:
        versions = ProcessVersion.objects.filter(definition__key=key)
        version = (
            versions.filter(number=number).first()
            if number is not None
            else versions.order_by("-number").first()
        )
        if version is None:
            which = f" version {number}" if number is not None else ""
            raise CommandError(f"no definition {key!r}{which}")
        self.stdout.write(version.source, ending="" if version.source.endswith("\n") else "\n")
