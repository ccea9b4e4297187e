from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from orchestration import services
from orchestration.management.cli import run_service


class Command(BaseCommand):
    help = (
        "Move the live instances of version N to version M. Every current step must map to a "
        "step of M (same id, or --map old=new); otherwise nothing moves."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key")
        parser.add_argument("--from", type=int, dest="source", required=True, metavar="N")
        parser.add_argument("--to", type=int, dest="target", required=True, metavar="M")
        parser.add_argument("--map", action="append", default=[], metavar="OLD=NEW")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args: Any, **o: Any) -> None:
        mapping = {}
        for item in o["map"]:
            old, sep, new = item.partition("=")
            if not sep or not old or not new:
                raise CommandError(f"--map: expected old_step=new_step, got {item!r}")
            mapping[old] = new
        moved = run_service(
            lambda: services.instance_migrate(
                key=o["key"],
                source=o["source"],
                target=o["target"],
                mapping=mapping,
                actor=None,
                dry_run=o["dry_run"],
            ),
            what="migrate instances",
            actor=None,
        )
        verb = "would move" if o["dry_run"] else "moved"
        self.stdout.write(f"{verb} {len(moved)} instance(s) from v{o['source']} to v{o['target']}")
        for pk in moved:
            self.stdout.write(f"  {pk}")
