from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from orchestration import selectors


class Command(BaseCommand):
    help = (
        "List open tasks nobody may decide (every assignee inactive or excluded, no "
        "delegate who may); exits non-zero when there is one."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        found = selectors.stranded_tasks()
        for task, why in found:
            self.stdout.write(
                f"task {task.pk} (instance {task.instance_id}, step {task.step}): {why}"
            )
        if found:
            raise CommandError(f"{len(found)} open task(s) nobody may decide")
        self.stdout.write("every open task has someone who may decide it")
