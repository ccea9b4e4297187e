from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestration import services
from orchestration.management.cli import actor_option, json_option, run_service


class Command(BaseCommand):
    help = "Decide a human task with an outcome, as a user, by the same rules as the inbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("task_id", type=int, metavar="TASK_ID")
        parser.add_argument("--outcome", required=True)
        parser.add_argument("--as", dest="username", metavar="USERNAME", required=True)
        parser.add_argument("--data", default="{}", help="JSON object with the form fields")

    def handle(self, *args: Any, **o: Any) -> None:
        actor = actor_option(o["username"])
        data = json_option("--data", o["data"])
        task = run_service(
            lambda: services.task_complete(
                task_id=o["task_id"], outcome=o["outcome"], data=data, actor=actor
            ),
            what=f"decide task {o['task_id']}",
            actor=actor,
        )
        self.stdout.write(f"task {task.pk} {task.outcome}")
