"""Definitions as code: load YAML/JSON files (or folders of them) as versions."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from orchestration import services
from orchestration.definitions.errors import DefinitionInvalid
from orchestration.definitions.graph import all_steps
from orchestration.definitions.parse import parse_source
from orchestration.definitions.validate import validate
from orchestration.states import VersionStatus

SUFFIXES = {".yaml", ".yml", ".json"}


def collect_files(paths: list[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise CommandError(f"{raw}: no such file or folder")
    return files


class Command(BaseCommand):
    help = (
        "Load process definitions from YAML/JSON files or folders. Identical content makes "
        "no new version; an invalid file is reported and nothing of it is saved."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument("--publish", action="store_true", help="publish what was loaded")

    def handle(self, *args: Any, paths: list[str], publish: bool, **options: Any) -> None:
        files = collect_files(paths)
        if not files:
            raise CommandError("no .yaml, .yml or .json files found")
        sources: dict[Path, str] = {}
        specs: dict[Path, dict[str, Any]] = {}
        failed: dict[Path, list[str]] = {}
        for file in files:
            sources[file] = file.read_text(encoding="utf-8")
            try:
                specs[file] = parse_source(sources[file])
            except DefinitionInvalid as exc:
                failed[file] = exc.messages
        batch_keys = {str(spec.get("key")) for spec in specs.values()}

        if publish:  # check the publish rules up front, so a file is loaded whole or not at all
            context = services.validation_context(extra_definitions=batch_keys, for_publish=True)
            context = dataclasses.replace(
                context,
                published_definitions=set(context.published_definitions or ()) | batch_keys,
            )
            for file, spec in list(specs.items()):
                errors = validate(spec, context)
                if errors:
                    failed[file] = [str(e) for e in errors]
                    del specs[file]

        for file in _children_first(specs):
            try:
                with transaction.atomic():
                    result = services.version_save_draft(
                        source=sources[file], actor=None, extra_definitions=batch_keys
                    )
                    version = result.version
                    published = False
                    if publish and version.status != VersionStatus.PUBLISHED:
                        services.version_publish(version=version, actor=None)
                        published = True
            except DefinitionInvalid as exc:
                failed[file] = exc.messages
                continue
            what = "new version" if result.changed else "unchanged"
            status = " -> published" if published else f" ({version.status})"
            self.stdout.write(f"{file}: {version.definition.key} v{version.number} {what}{status}")

        for file, messages in failed.items():
            self.stderr.write(f"{file}: invalid, nothing saved")
            for message in messages:
                self.stderr.write(f"  {message}")
        if failed:
            raise CommandError(f"{len(failed)} of {len(files)} files are invalid")


def _children_first(specs: dict[Path, dict[str, Any]]) -> list[Path]:
    """Order files so that sub-process definitions load (and publish) before their parents."""
    by_key = {spec.get("key"): file for file, spec in specs.items()}
    ordered: list[Path] = []
    visiting: set[Path] = set()

    def visit(file: Path) -> None:
        if file in ordered or file in visiting:
            return
        visiting.add(file)
        steps = all_steps(specs[file]) if isinstance(specs[file].get("steps"), dict) else {}
        for step in steps.values():
            if isinstance(step, dict) and step.get("type") == "subprocess":
                child = by_key.get(step.get("definition"))
                if child is not None and child != file:
                    visit(child)
        ordered.append(file)

    for file in specs:
        visit(file)
    return ordered
