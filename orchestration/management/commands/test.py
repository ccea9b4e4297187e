"""`manage.py test` runs the pytest suite (pytest-django) with the test settings.

It replaces Django's own test command so that the README's one test command is
`python3 manage.py test`; any arguments are passed on to pytest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the test suite with pytest; extra arguments go to pytest."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("pytest_args", nargs="*")
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        # Hand every argument to pytest untouched (its options look like ours).
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
        command = [sys.executable, "-m", "pytest", *argv[2:]]
        sys.exit(subprocess.call(command, cwd=settings.BASE_DIR, env=env))  # noqa: S603

    def handle(self, *args: Any, **options: Any) -> None:  # pragma: no cover - see run_from_argv
        raise NotImplementedError
