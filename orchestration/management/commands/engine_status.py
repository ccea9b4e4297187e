from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestration import clock, selectors


class Command(BaseCommand):
    help = "Engine health: live loops, queue depth, due and late work, timer lateness."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--window", type=int, default=60, help="minutes of timer history")

    def handle(self, *args: Any, json: bool, window: int, **options: Any) -> None:
        data = selectors.engine_status(since=clock.now() - timedelta(minutes=window))
        if json:
            self.stdout.write(_dumps(data))
            return
        for key, value in data.items():
            self.stdout.write(f"{key:<28} {value}")


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
