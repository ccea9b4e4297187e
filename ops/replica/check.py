"""The read replica, tested against a real one: a test script.

    .venv/bin/python ops/replica/check.py

Makes a throwaway PostgreSQL cluster (initdb) on a free port, a streaming
replica of it (pg_basebackup -R) on another, points DATABASE_URL at the first
and DATABASE_REPLICA_URL at the second, and checks the lag rule of
orchestration/replica.py through the pages and the API:
  1. a caught-up replica serves the inbox list and the API's list (the
     queries are counted per database), and the page shows what the primary
     wrote;
  2. with its replay paused and more than ORCHESTRATION_REPLICA_MAX_LAG_SECONDS
     behind, the primary serves, and the page shows the newest task at once;
     resumed and caught up, the replica serves again;
  3. a person who just decided reads the primary (the signed cookie), and so
     does an API call with `Cache-Control: no-cache`;
  4. /metrics says the replica's lag;
  5. the replica stopped outright: pages still answer, from the primary.
Prints each check; exits 1 at the first that fails. About 20 s. Needs the
PostgreSQL server binaries (`pg_config --bindir`); run as root, it runs them
as the `postgres` user.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bindir() -> Path:
    found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)  # noqa: S607
    if found.returncode == 0 and (Path(found.stdout.strip()) / "initdb").exists():
        return Path(found.stdout.strip())
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        raise SystemExit("FAILED: no PostgreSQL server binaries (initdb) found")
    return versions[-1].parent


class Clusters:
    """A primary and its streaming replica, made and removed by this run."""

    def __init__(self) -> None:
        self.bin = bindir()
        self.folder = Path(tempfile.mkdtemp(prefix="replica-check-"))
        self.primary, self.replica = free_port(), free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.folder, "postgres", "postgres")

    def run(self, *command: str) -> None:
        argv = [str(self.bin / command[0]), *command[1:]]
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode:
            raise SystemExit(f"FAILED: {' '.join(command)}\n{done.stdout}{done.stderr}")

    def start(self, name: str, port: int) -> None:
        self.run("pg_ctl", "-D", str(self.folder / name), "-l", str(self.folder / f"{name}.log"),
                 "-o", f"-p {port} -k {self.folder} -c listen_addresses=127.0.0.1", "-w",
                 "start")  # fmt: skip

    def stop(self, name: str) -> None:
        with contextlib.suppress(SystemExit):
            self.run("pg_ctl", "-D", str(self.folder / name), "-m", "immediate", "-w", "stop")

    def __enter__(self) -> Clusters:
        self.run("initdb", "-D", str(self.folder / "primary"), "-U", "postgres",
                 "--auth=trust", "--no-sync")  # fmt: skip
        self.start("primary", self.primary)
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary), "-U", "postgres",
                 "-D", str(self.folder / "replica"), "-R", "--checkpoint=fast")  # fmt: skip
        self.start("replica", self.replica)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop("replica")
        self.stop("primary")
        shutil.rmtree(self.folder, ignore_errors=True)


def wait_for(what: str, ready: Callable[[], bool], timeout: float = 30) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ready():
            return
        time.sleep(0.1)
    raise SystemExit(f"FAILED: {what} within {timeout:.0f} s")


def check(what: str, ok: bool, detail: Any = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}{f' ({detail})' if detail != '' else ''}")
    if not ok:
        raise SystemExit(1)


def main() -> int:
    with Clusters() as pg:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{pg.primary}/postgres",
                             autocommit=True) as conn:  # fmt: skip
            conn.execute("CREATE DATABASE engine")
        os.environ.update({
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg.primary}/engine",
            "DATABASE_REPLICA_URL": f"postgres://postgres@127.0.0.1:{pg.replica}/engine",
            "ORCHESTRATION_REPLICA_MAX_LAG_SECONDS": "2",
            "ORCHESTRATION_METRICS_TOKEN": "replica-check",
            "LOG_FORMAT": "plain",
        })  # fmt: skip
        import django

        django.setup()
        return checks(pg)


@contextlib.contextmanager
def counted() -> Iterator[dict[str, int]]:
    """Queries run on each database within the block."""
    from django.db import connections

    seen = {"default": 0, "replica": 0}
    wrappers = []
    for alias in seen:

        def count(execute: Any, sql: str, params: Any, many: bool, context: Any,
                  alias: str = alias) -> Any:  # fmt: skip
            seen[alias] += 1
            return execute(sql, params, many, context)

        wrappers.append(connections[alias].execute_wrapper(count))
    with contextlib.ExitStack() as stack:
        for wrapper in wrappers:
            stack.enter_context(wrapper)
        yield seen


def checks(pg: Clusters) -> int:
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client
    from django.test.utils import setup_test_environment

    from orchestration import replica
    from orchestration.demo import seed
    from orchestration.models import HumanTask
    from orchestration.testing import ProcessTest

    setup_test_environment()
    call_command("migrate", verbosity=0)
    seed.seed_users()
    seed.seed_definitions()

    def caught_up() -> bool:
        return replica.lag_seconds(fresh=True) == 0.0

    def replica_has(pk: int) -> bool:
        return HumanTask.objects.using("replica").filter(pk=pk).exists()

    with ProcessTest() as run:
        desk = run.start("purchase-approval", {"item": "desk", "amount": 5000}, as_="alice")
        (task,) = run.open_tasks(desk)
    wait_for("the replica has the task", lambda: caught_up() and replica_has(task.pk))

    bob = Client()
    bob.force_login(seed.User.objects.get(username="bob"))
    with counted() as seen:
        page = bob.get("/inbox/", {"tab": "group"})
    check("a caught-up replica serves the inbox list", page.status_code == 200
          and seen["replica"] > 0 and "Approve desk" in page.content.decode(), seen)  # fmt: skip

    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_pause()")
    with ProcessTest() as run:
        lamp = run.start("purchase-approval", {"item": "lamp", "amount": 3000}, as_="alice")
    wait_for("the replica to fall behind", lambda: (replica.lag_seconds(fresh=True) or 0) > 2)
    with counted() as seen:
        page = bob.get("/inbox/", {"tab": "group"})
    check("a replica further behind than allowed is skipped", seen["replica"] == 0
          and "Approve lamp" in page.content.decode(),
          f"lag {replica.lag_seconds():.1f} s, {seen}")  # fmt: skip
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT pg_wal_replay_resume()")
    (lamp_task,) = HumanTask.objects.filter(instance=lamp)
    wait_for("the replica to catch up", lambda: caught_up() and replica_has(lamp_task.pk))
    with counted() as seen:
        page = bob.get("/inbox/", {"tab": "group"})
    check("caught up again, it serves again", seen["replica"] > 0
          and "Approve lamp" in page.content.decode(), seen)  # fmt: skip

    decided = bob.post(f"/tasks/{task.pk}/decide/", {"outcome": "approve"})
    check("bob decides (through the page)", decided.status_code in (200, 302), decided.status_code)
    with counted() as seen:
        page = bob.get("/inbox/", {"tab": "done"})
    check("right after his decision, bob reads the primary", seen["replica"] == 0
          and "Approve desk" in page.content.decode(), seen)  # fmt: skip

    from api.keys import issue

    _, token = issue(name="replica-check", user=seed.User.objects.get(username="alice"),
                     scopes=["instances:read"])  # fmt: skip
    wait_for("the replica to catch up", caught_up)
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    with counted() as seen:
        listed = api.get("/api/v1/instances")
    check("the API's list reads the replica", listed.status_code == 200 and seen["replica"] > 0,
          seen)  # fmt: skip
    with counted() as seen:
        listed = api.get("/api/v1/instances", HTTP_CACHE_CONTROL="no-cache")
    check("... and the primary when asked for fresh data (Cache-Control: no-cache)",
          listed.status_code == 200 and seen["replica"] == 0, seen)  # fmt: skip

    scraped = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer replica-check")
    lag = re.search(r"^orchestration_replica_lag_seconds (\S+)$", scraped.content.decode(), re.M)
    check("/metrics says the replica's lag", scraped.status_code == 200 and lag is not None,
          lag.group(0) if lag else scraped.status_code)  # fmt: skip

    pg.stop("replica")
    connections["replica"].close()
    replica._health.checked_at = -1e9
    started = time.monotonic()
    with counted() as seen:
        page = bob.get("/inbox/", {"tab": "group"})
    check("the replica stopped: the page still answers, from the primary",
          page.status_code == 200 and seen["replica"] == 0,
          f"{time.monotonic() - started:.2f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
