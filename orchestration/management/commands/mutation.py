"""`manage.py mutation`: mutation testing of the engine's pure rules.

mutmut (pinned in requirements.lock) plants one small bug at a time in the
modules listed under [tool.mutmut] `only_mutate` in pyproject.toml and runs
their fast tests (`pytest_add_cli_args_test_selection`) against each; a
mutant no test fails "survived". This command runs it from a clean `mutants/`
folder, then prints the score per module and every survivor's change, and
fails below --min. docs/testing.md keeps the last score and why each
survivor cannot be told apart from the original (an equivalent mutant).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

# mutmut's verdicts that mean a test noticed the bug.
CAUGHT = {"killed", "timeout", "segfault", "caught by type check"}
_RESULT = re.compile(r"^\s*(?P<name>(?P<module>[\w.]+?)\.x[_ǁ]\S*): (?P<status>.+)$")


class Command(BaseCommand):
    help = "Mutation testing of the pure rules (mutmut): a score per module; fails below --min."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--min", type=float, default=90.0, help="the lowest total score that passes (percent)"
        )
        parser.add_argument(
            "--keep", action="store_true", help="reuse mutants/ and its results from the last run"
        )

    def handle(self, *args: Any, min: float, keep: bool, **options: Any) -> None:
        root = Path(settings.BASE_DIR)
        if not keep:
            shutil.rmtree(root / "mutants", ignore_errors=True)
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
        with tempfile.TemporaryFile("w+") as log:
            self.stdout.write("Running mutmut (a few minutes) ...")
            done = subprocess.run(
                [sys.executable, "-m", "mutmut", "run"], cwd=root, env=env,
                stdout=log, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                log.seek(0)
                raise CommandError("mutmut failed:\n" + log.read()[-3000:])
        listed = self._mutmut(root, env, "results", "--all", "true")
        results = [m.groupdict() for m in map(_RESULT.match, listed.splitlines()) if m]
        if not results:
            raise CommandError("mutmut reported no mutants:\n" + listed[-3000:])
        self._table(results)
        survivors = [r for r in results if r["status"] not in CAUGHT]
        if survivors:
            self.stdout.write(f"\n{len(survivors)} not caught (docs/testing.md says why):")
            for row in survivors:
                shown = self._mutmut(root, env, "show", row["name"])
                change = [line for line in shown.splitlines()
                          if line[:1] in "-+" and line[:3] not in {"---", "+++"}]  # fmt: skip
                self.stdout.write(f"  {row['name']} ({row['status']})")
                for line in change:
                    self.stdout.write(f"      {line.strip()}")
        score = 100 * sum(r["status"] in CAUGHT for r in results) / len(results)
        if score < min:
            raise CommandError(f"mutation score {score:.1f} % is below {min:g} %")

    def _table(self, results: list[dict[str, str]]) -> None:
        by_module: dict[str, Counter[bool]] = defaultdict(Counter)
        for row in results:
            by_module[row["module"]][row["status"] in CAUGHT] += 1
        width = max(len(m) for m in by_module) + 2
        self.stdout.write(f"\n{'module':<{width}}{'mutants':>8}{'caught':>8}{'missed':>8}  score")
        for module, count in [*sorted(by_module.items()), ("all", _total(by_module))]:
            total = count[True] + count[False]
            self.stdout.write(
                f"{module:<{width}}{total:>8}{count[True]:>8}{count[False]:>8}"
                f"  {100 * count[True] / total:5.1f} %"
            )

    @staticmethod
    def _mutmut(root: Path, env: dict[str, str], *args: str) -> str:
        done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "mutmut", *args], cwd=root, env=env,
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return done.stdout


def _total(by_module: dict[str, Counter[bool]]) -> Counter[bool]:
    total: Counter[bool] = Counter()
    for count in by_module.values():
        total.update(count)
    return total
