from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestration import services
from orchestration.management.cli import actor_option, json_option, run_service


class Command(BaseCommand):
    help = "Deliver a named message to an instance's waiting step."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("instance_id", type=int, metavar="ID")
        parser.add_argument("name")
        parser.add_argument("--payload", default="{}", help="JSON object")
        parser.add_argument("--as", dest="username", metavar="USERNAME")

    def handle(self, *args: Any, **o: Any) -> None:
        actor = actor_option(o["username"])
        payload = json_option("--payload", o["payload"])
        instance = run_service(
            lambda: services.instance_send_message(
                instance_id=o["instance_id"], name=o["name"], payload=payload, actor=actor
            ),
            what=f"message instance {o['instance_id']}",
            actor=actor,
        )
        self.stdout.write(f"instance {instance.pk} {instance.status}")
