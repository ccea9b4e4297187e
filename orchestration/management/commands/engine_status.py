from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orchestration import clock, health, selectors


class Command(BaseCommand):
    help = (
        "Engine health: the readiness checks /readyz answers with, live loops, queue depth,"
        " due and late work, timer lateness. Exits 1 when not ready."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--window", type=int, default=60, help="minutes of timer history")

    def handle(self, *args: Any, json: bool, window: int, **options: Any) -> None:
        checks = health.readiness()
        since = clock.now() - timedelta(minutes=window)
        data = {**health.as_json(checks), **selectors.engine_status(since=since)}
        if json:
            self.stdout.write(_dumps(data))
        else:
            for check in checks:
                said = "ok" if check.ok else f"NOT READY: {check.reason}"
                self.stdout.write(f"{'check ' + check.name:<28} {said}")
            for key, value in data.items():
                if key not in ("ready", "checks"):
                    self.stdout.write(f"{key:<28} {value}")
        if not data["ready"]:
            failed = ", ".join(c.name for c in checks if not c.ok)
            raise CommandError(f"not ready: {failed}")


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
