"""Run a benchmark alternately against this checkout and an earlier commit, on
the same machine: one command, prints each run's output under its label.

    .venv/bin/python bench/alternate.py 5854e82 [--rounds 2] [--bench engine.py] \
        -- --instances 1500 --approvals 800 --timers 0 --escalations 0 --workers 1 2

The earlier commit is checked out into a temporary git worktree with this
checkout's `bench/` copied in (both sides run the same harness) and this
checkout's virtualenv linked in; it runs against a database of its own
(`<name>_before`, built by its own code), this checkout against the usual one.
Runs go before, after, before, after, ...: the machine's speed drifts within
the hour, so each run is read against its neighbours and its own floor. The
worktree is removed at the end; the databases are kept (drop them by hand).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/orchestration_bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", help="the commit to compare with")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--bench", default="engine.py", help="a script in bench/")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args, extra = parser.parse_args(argv[:cut]), argv[cut + 1 :]
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    python = HERE / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "before"
        git = ["git", "-C", str(HERE), "worktree"]
        subprocess.run([*git, "add", "-f", "--detach", str(tree), args.before],  # noqa: S603
                       check=True, capture_output=True)  # fmt: skip
        try:
            for script in (HERE / "bench").glob("*.py"):
                shutil.copy(script, tree / "bench" / script.name)
            (tree / ".venv").symlink_to(HERE / ".venv")
            sides = [("before " + args.before, tree, f"{url}_before"), ("after", HERE, url)]
            for number in range(1, args.rounds + 1):
                for label, root, database in sides:
                    print(f"\n===== round {number}, {label} =====", flush=True)
                    subprocess.run(  # noqa: S603
                        [str(python), f"bench/{args.bench}", *extra], cwd=root, check=False,
                        env={**os.environ, "BENCH_DATABASE_URL": database},
                    )  # fmt: skip
        finally:
            subprocess.run([*git, "remove", "--force", str(tree)],  # noqa: S603
                           check=False, capture_output=True)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
