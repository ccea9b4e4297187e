from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orchestration import selectors, sensitive
from orchestration.management.cli import run_service


class Command(BaseCommand):
    help = "Show an instance: status, result, current steps, open tasks and step records."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("instance_id", type=int, metavar="ID")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, instance_id: int, json: bool, **options: Any) -> None:
        data = run_service(lambda: selectors.instance_status_data(instance_id), what="", actor=None)
        # A terminal is no place to open sensitive values: the audited pages are.
        data["variables"], data["error"] = sensitive.masked([data["variables"], data["error"]])
        if json:
            self.stdout.write(_dumps(data))
            return
        out = self.stdout.write
        out(
            f"Instance {data['id']}  {data['definition']} v{data['version']}  {data['status']}"
            + (f"  result={data['result']}" if data["result"] else "")
        )
        if data["business_key"]:
            out(f"Business key: {data['business_key']}")
        if data["status"] == "incident" and data["error"]:
            error = data["error"]
            out(
                f"Incident at {error.get('step')!r}: {error.get('type')}: {error.get('message')}"
                f" (while applying: {error.get('source')}; {len(error.get('replay') or [])}"
                " event(s) held; retry_instance resumes it)"
            )
        elif data["error"]:
            out(
                f"Error at {data['error'].get('step')}: {data['error'].get('code')} "
                f"{data['error'].get('message')}"
            )
        out("Current steps: " + (", ".join(data["current_steps"]) or "-"))
        out("Open tasks:" + ("" if data["open_tasks"] else " -"))
        for task in data["open_tasks"]:
            who = ", ".join(a.get("user") or f"group:{a['group']}" for a in task["assignees"])
            out(f"  #{task['id']} {task['step']}: {task['title']} ({who or 'nobody'})")
        out("Steps:")
        for run in data["steps"]:
            kind = " (undo)" if run["compensation"] else ""
            error = (
                f"  {run['error'].get('code')}: {run['error'].get('message', '')}"
                if run["error"]
                else ""
            )
            attempt = f"#{run['execution']}.{run['attempt']}"
            out(f"  {run['step']}{kind} {attempt}  {run['status']}{error}")
        out("Variables: " + _dumps(data["variables"]))


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)
