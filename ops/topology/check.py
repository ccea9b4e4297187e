"""The production layout, run for real on one machine: a test script.

    .venv/bin/python ops/topology/check.py [--broker orm|redis|both] [--instances 40]

Starts, each in a process group of its own (as on separate hosts):
  - gunicorn with two web processes (config.wsgi, production settings),
  - two worker clusters (`manage.py qcluster`, two django-q2 workers each),
all against one PostgreSQL database made for the run, with django-q2 on its
ORM broker or on Redis (Q_REDIS_URL, the local server). Then, through the
REST API served by gunicorn, a requester starts approvals whose path holds a
service step, a person's decision, a timer and another service step; an
approver decides half of them; the cluster running the most engine loops is
killed outright (SIGKILL to its process group: main process, sentinel,
workers and their loops); the approver decides the rest. The other cluster
must finish everything: every instance completed, each service step
succeeded exactly once per instance, the audit chain verifies. Prints a
table; exits 1 when any of it fails.

Needs PostgreSQL at TOPOLOGY_PG (default postgres://postgres@127.0.0.1:5432)
and, for --broker redis, Redis at TOPOLOGY_REDIS (default
redis://127.0.0.1:6379/14, a database it empties). docs/operations.md,
"Topology", says what it shows; .ci/run runs it with both brokers.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PG = os.environ.get("TOPOLOGY_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("TOPOLOGY_REDIS", "redis://127.0.0.1:6379/14")
DATABASE = "orchestration_topology"

DEFINITION = """
key: topology
name: Topology check
variables: {item: {type: string, required: true}}
start: check
steps:
  check: {type: service, handler: demo.check_budget, next: review}
  review:
    type: approval
    title: "Approve {{ item }}"
    assignees: {groups: [managers]}
    outcomes: {approve: cool, reject: refused}
  cool: {type: wait, timer: 3s, next: order}
  order: {type: service, handler: demo.place_order, next: done}
  done: {type: end, result: ordered}
  refused: {type: end, result: refused}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, ready: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if ready():
            return time.monotonic() - started
        time.sleep(0.25)
    raise SystemExit(f"FAILED: {what} within {timeout:.0f} s")


class Run:
    def __init__(self, broker: str, instances: int) -> None:
        self.broker, self.instances = broker, instances
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": f"{PG}/{DATABASE}",
            "ORCHESTRATION_HANDLER_MODULES": "orchestration.demo.handlers",
            "LOG_FORMAT": "json",
            # Four loops in six worker slots: each cluster runs at least one
            # (three at most fit in one), and two slots stay free for the
            # schedule that keeps the loops alive.
            "Q_WORKERS": "3",
            "ORCHESTRATION_LOOPS": "4",
            # Loops end and are replaced every 10 s (50 s in production): a cluster
            # that prefetched the fourth loop behind three busy workers hands
            # over soon, and the run sees replacement work too.
            "ORCHESTRATION_LOOP_SECONDS": "10",
            "PROCESS_ENGINE_NO_BOOTSTRAP": "1",
        }
        self.env.pop("Q_REDIS_URL", None)
        if broker == "redis":
            self.env["Q_REDIS_URL"] = REDIS
        self.groups: dict[str, subprocess.Popen[bytes]] = {}
        logs = os.environ.get("TOPOLOGY_LOGS") or tempfile.mkdtemp(prefix="topology-")
        self.logs = Path(logs) / broker
        self.logs.mkdir(parents=True, exist_ok=True)
        self.figures: dict[str, Any] = {}

    # ---- processes -------------------------------------------------------------------------
    def manage(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
            text=True, timeout=300, check=False,
        )  # fmt: skip
        if done.returncode:
            raise SystemExit(f"FAILED: manage.py {' '.join(args)}\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def start(self, name: str, *command: str) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        self.groups[name] = subprocess.Popen(  # noqa: S603
            list(command), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, as on another host
        )  # fmt: skip

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        process = self.groups.pop(name, None)
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)

    def stop_all(self) -> None:
        for name in list(self.groups):
            # SIGINT as Ctrl-C sends it: django-q2 and gunicorn stop gracefully.
            self.kill(name, signal.SIGINT)

    def alive(self, name: str) -> bool:
        """Whether any process of the group is left."""
        try:
            os.killpg(self.groups[name].pid, 0)
        except ProcessLookupError:
            return False
        return True

    def loops(self) -> dict[str, int]:
        """Engine loops alive (a heartbeat in the last 10 s) per cluster: a
        loop's name holds its process id, and its process group is its cluster."""
        found = {name: 0 for name in self.groups if name.startswith("cluster")}
        pgids = {self.groups[name].pid: name for name in found}
        for (name,) in self.sql(
            "SELECT name FROM orchestration_loopheartbeat WHERE seen_at > now() - interval '10 s'"
        ):
            with contextlib.suppress(ValueError, ProcessLookupError):
                cluster = pgids.get(os.getpgid(int(name.split(":")[1])))
                if cluster:
                    found[cluster] += 1
        return found

    def members(self, name: str) -> set[int]:
        """The process ids in a group (the cluster's main process, sentinel, workers)."""
        group, found = self.groups[name].pid, set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[2]) == group:  # state, ppid, pgrp
                        found.add(int(entry.name))
        return found

    # ---- the run ---------------------------------------------------------------------------
    def database(self) -> None:
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DATABASE}")
        if self.broker == "redis":
            import redis

            redis.from_url(REDIS).flushdb()

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(f"{PG}/{DATABASE}") as conn:
            return conn.execute(query, params).fetchall()

    def go(self) -> None:
        t0 = time.monotonic()
        self.database()
        self.manage("migrate", "--verbosity", "0")
        self.manage("shell", "-c", "from orchestration.demo import seed; seed.seed_users()")
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "topology.yaml").write_text(DEFINITION)
            self.manage("load_definitions", str(Path(folder) / "topology.yaml"), "--publish")
        alice = self.manage(
            "api_key",
            "create",
            "alice-topology",
            "--user",
            "alice",
            "--scope",
            "instances:start",
            "--scope",
            "instances:read",
        ).strip()
        bob = self.manage("api_key", "create", "bob-topology", "--user", "bob",
                          "--scope", "tasks:read", "--scope", "tasks:act").strip()  # fmt: skip
        self.figures["setup s"] = time.monotonic() - t0

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        self.start("web", PYTHON, "-m", "gunicorn", "config.wsgi", "--workers", "2",
                   "--bind", f"127.0.0.1:{port}", "--graceful-timeout", "5")  # fmt: skip
        self.start("cluster-a", PYTHON, "manage.py", "qcluster")
        self.start("cluster-b", PYTHON, "manage.py", "qcluster")
        web = httpx.Client(base_url=base, timeout=30)

        def answers() -> bool:
            try:
                return web.get("/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("gunicorn answers /healthz", answers, 60)
        # What the clusters' schedule does every 30 s, once now: start the loops.
        self.manage("shell", "-c", "from orchestration import jobs; jobs.ensure_loops()")
        self.figures["ready s"] = wait_for(
            "/readyz (a worker loop heartbeat)",
            lambda: web.get("/readyz").status_code == 200, 90,
        )  # fmt: skip

        wait_for("an engine loop", lambda: sum(self.loops().values()) > 0, 60)
        t1 = time.monotonic()
        as_alice = {"Authorization": f"Bearer {alice}"}
        ids = []
        for n in range(self.instances):
            answer = web.post("/api/v1/instances", headers={
                **as_alice, "Idempotency-Key": f"topology-{n}",
            }, json={"definition": "topology", "business_key": f"T-{n}",
                     "variables": {"item": f"item {n}"}})  # fmt: skip
            if answer.status_code != 201:
                raise SystemExit(f"FAILED: start {n}: {answer.status_code} {answer.text}")
            ids.append(answer.json()["id"])
        as_bob = {"Authorization": f"Bearer {bob}"}

        def open_tasks() -> list[int]:
            found, url, params = [], "/api/v1/tasks", {"status": "open", "limit": 200}
            while url:
                page = web.get(url, headers=as_bob, params=params)
                page.raise_for_status()
                found += [t["id"] for t in page.json()["results"]]
                url, params = page.json()["next"], None
            return found

        wait_for(f"{self.instances} approvals open",
                 lambda: len(open_tasks()) == self.instances, 120)  # fmt: skip
        tasks = open_tasks()
        half = len(tasks) // 2

        def decide(task_ids: list[int]) -> None:
            for pk in task_ids:
                answer = web.post(f"/api/v1/tasks/{pk}/complete", headers=as_bob,
                                  json={"outcome": "approve"})  # fmt: skip
                if answer.status_code != 200:
                    raise SystemExit(f"FAILED: decide {pk}: {answer.status_code} {answer.text}")

        decide(tasks[:half])
        time.sleep(1.0)  # let the loops take some of the timers and steps now due
        # The cluster running the most loops goes the way a host does when it
        # dies: every process at once. The other may run none yet (a cluster
        # prefetches loop tasks behind busy workers): then it starts its own.
        loops = self.loops()
        killed = max(sorted(loops), key=lambda name: loops[name])
        survivor = next(name for name in loops if name != killed)
        in_killed = self.members(killed)
        self.kill(killed)
        killed_at = time.monotonic()
        self.figures["loops"] = f"{loops[killed]}+{loops[survivor]}"
        decide(tasks[half:])

        def finished() -> bool:
            (n,) = self.sql(
                "SELECT count(*) FROM orchestration_processinstance"
                " WHERE status = 'completed' AND id = ANY(%s)", ids,
            )[0]  # fmt: skip
            return bool(n == len(ids))

        wait_for("every instance completed by the surviving cluster", finished, 180)
        self.figures["workload s"] = time.monotonic() - t1
        self.figures["after the kill s"] = time.monotonic() - killed_at
        if not self.alive(survivor):
            raise SystemExit("FAILED: the surviving cluster is gone")
        twice = self.sql(
            "SELECT instance_id, step, count(*) FROM orchestration_steprun"
            " WHERE status = 'succeeded' AND step IN ('check', 'order')"
            " GROUP BY instance_id, step HAVING count(*) <> 1"
        )
        if twice:
            raise SystemExit(f"FAILED: service steps not run exactly once: {twice[:5]}")
        (runs,) = self.sql(
            "SELECT count(*) FROM orchestration_steprun WHERE status = 'succeeded'"
            " AND step IN ('check', 'order')"
        )[0]
        if runs != 2 * len(ids):
            raise SystemExit(f"FAILED: {runs} service steps succeeded, expected {2 * len(ids)}")
        by_killed = sum(
            n for worker, n in self.sql(
                "SELECT worker, count(*) FROM orchestration_steprun WHERE status = 'succeeded'"
                " GROUP BY worker"
            ) if _pid(worker) in in_killed
        )  # fmt: skip
        self.figures["steps"] = f"{by_killed}+{runs - by_killed}"
        stopping = time.monotonic()
        self.stop_all()
        self.figures["stop s"] = time.monotonic() - stopping
        verified = self.manage("verify_audit")
        self.figures["audit"] = verified.strip().splitlines()[-1][:60]
        self.figures["instances"] = len(ids)

    def close(self) -> None:
        self.stop_all()
        for name in list(self.groups):
            self.kill(name)


def _pid(worker: str) -> int | None:
    """The process id in a loop's name (host:pid:random)."""
    parts = worker.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)  # fmt: skip
    parser.add_argument("--broker", choices=["orm", "redis", "both"], default="both")
    parser.add_argument("--instances", type=int, default=40)
    args = parser.parse_args()
    rows = []
    for broker in ["orm", "redis"] if args.broker == "both" else [args.broker]:
        run = Run(broker, args.instances)
        started = time.monotonic()
        try:
            run.go()
        except SystemExit as failed:
            print(f"{broker}: {failed} (logs in {run.logs}; {run.figures})", file=sys.stderr)
            return 1
        finally:
            run.close()
        if not os.environ.get("TOPOLOGY_LOGS"):  # kept only when asked for, or on failure
            shutil.rmtree(run.logs.parent, ignore_errors=True)
        rows.append((broker, run.figures, time.monotonic() - started))
    # loops and steps: the killed cluster's + the survivor's (steps: service
    # steps that succeeded, 2 per instance).
    print(f"{'broker':<8}{'instances':>10}{'loops':>7}{'setup s':>9}{'ready s':>9}"
          f"{'workload s':>12}{'after kill s':>14}{'steps':>8}{'stop s':>8}{'total s':>9}"
          "  audit")  # fmt: skip
    for broker, f, total in rows:
        print(f"{broker:<8}{f['instances']:>10}{f['loops']:>7}{f['setup s']:>9.1f}"
              f"{f['ready s']:>9.1f}{f['workload s']:>12.1f}"
              f"{f['after the kill s']:>14.1f}{f['steps']:>8}{f['stop s']:>8.1f}{total:>9.1f}"
              f"  {f['audit']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
