from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestration import services
from orchestration.management.cli import actor_option, run_service


class Command(BaseCommand):
    help = "Retry the step (or compensation) that failed an instance."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("instance_id", type=int, metavar="ID")
        parser.add_argument("--as", dest="username", metavar="USERNAME")

    def handle(self, *args: Any, **o: Any) -> None:
        actor = actor_option(o["username"])
        instance = run_service(
            lambda: services.instance_retry(instance_id=o["instance_id"], actor=actor),
            what=f"retry instance {o['instance_id']}",
            actor=actor,
        )
        self.stdout.write(f"instance {instance.pk} {instance.status}")
