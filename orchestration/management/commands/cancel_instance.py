from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestration import services
from orchestration.management.cli import actor_option, run_service


class Command(BaseCommand):
    help = "Cancel an instance: withdraw its work and compensate what it completed."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("instance_id", type=int, metavar="ID")
        parser.add_argument("--reason", default="")
        parser.add_argument("--as", dest="username", metavar="USERNAME")

    def handle(self, *args: Any, **o: Any) -> None:
        actor = actor_option(o["username"])
        instance = run_service(
            lambda: services.instance_cancel(
                instance_id=o["instance_id"], actor=actor, reason=o["reason"]
            ),
            what=f"cancel instance {o['instance_id']}",
            actor=actor,
        )
        self.stdout.write(f"instance {instance.pk} {instance.status}")
