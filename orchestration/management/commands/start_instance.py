from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestration import services
from orchestration.management.cli import actor_option, json_option, run_service


class Command(BaseCommand):
    help = "Start an instance of a published definition; prints the new instance id."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key")
        parser.add_argument("--variables", default="{}", help="JSON object")
        parser.add_argument("--business-key", default="")
        parser.add_argument("--version", type=int, dest="number", metavar="N")
        parser.add_argument("--as", dest="username", metavar="USERNAME")

    def handle(self, *args: Any, **o: Any) -> None:
        actor = actor_option(o["username"])
        variables = json_option("--variables", o["variables"])
        instance = run_service(
            lambda: services.instance_start(
                key=o["key"],
                variables=variables,
                actor=actor,
                business_key=o["business_key"],
                version=o["number"],
            ),
            what=f"start {o['key']}",
            actor=actor,
        )
        self.stdout.write(str(instance.pk))
