"""REST API benchmark, served by gunicorn against PostgreSQL: one command,
prints a table.

    .venv/bin/python bench/api.py [--seconds 10] [--clients 12] [--instances 2000]

Prints the machine's floor (bench/floor.py) beside the results. Uses the
inbox benchmark's database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/orchestration_inbox; run bench/inbox.py
first to build its 1,000,000 tasks). Starts gunicorn (4 gthread workers x 2 threads, the
production setup of docs/operations.md) on 127.0.0.1, then measures from a
client process over HTTP with keep-alive (client-side times, so they include
the loopback network and the client's own parsing):
  - POST /api/v1/instances: --clients connections (2 client processes) for
    --seconds; requests/s and
    p50/p99 latency (each start opens an approval task for a group);
  - GET /api/v1/tasks (view offered, mine, all) for a user in 3 groups among
    1,000,000 tasks: p50/p95 over 300 sequential requests;
  - external workers: --instances instances of a 3-step process whose steps
    are all `external`, pre-started; 8 worker threads fetch-and-lock (20 at a
    time) and complete until every instance has ended, once completing each
    task with its own request and once with one request per fetched batch
    (POST /api/v1/external-tasks/complete): instances/s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import benchdb

URL = benchdb.use("postgres://postgres@127.0.0.1:5432/orchestration_inbox")
ROOT = Path(__file__).resolve().parents[1]
PORT = int(os.environ.get("BENCH_API_PORT", "8791"))
BASE = f"http://127.0.0.1:{PORT}"
# 4 processes x 2 threads: the best of 2x8, 3x4 and 4x2 on 2 cores (docs/performance.md).
WORKERS = int(os.environ.get("BENCH_API_WORKERS", "4"))
THREADS = int(os.environ.get("BENCH_API_THREADS", "2"))

import django  # noqa: E402

django.setup()

import httpx  # noqa: E402
from django.core.management import call_command  # noqa: E402

from accounts.models import User  # noqa: E402
from api import keys  # noqa: E402
from api.models import SCOPES, ApiKey  # noqa: E402
from orchestration import services  # noqa: E402
from orchestration.models import ProcessInstance  # noqa: E402

START_SOURCE = """
key: bench-api
name: Bench API
start: ask
steps:
  ask:
    type: approval
    title: "Approve"
    assignees: {groups: [g0]}
    outcomes: {approve: done, reject: done}
  done: {type: end, result: ok}
"""
EXTERNAL_SOURCE = """
key: bench-external
name: Bench external
start: one
steps:
  one: {type: service, external: bench_a, next: two}
  two: {type: service, external: bench_b, next: three}
  three: {type: service, external: bench_c, next: done}
  done: {type: end, result: ok}
"""


def publish(source: str) -> None:
    draft = services.version_save_draft(source=source, actor=None).version
    if draft.status == "draft":
        services.version_publish(version=draft, actor=None)


def key_for(username: str, name: str) -> str:
    ApiKey.objects.filter(name=name).delete()
    user = User.objects.get(username=username)
    return keys.issue(name=name, user=user, scopes=list(SCOPES))[1]


def setup() -> tuple[str, str]:
    call_command("migrate", verbosity=0)
    if not User.objects.filter(username="u0").exists():
        sys.exit("run bench/inbox.py first: this benchmark reads its 1,000,000 tasks")
    publish(START_SOURCE)
    publish(EXTERNAL_SOURCE)
    system, _ = User.objects.get_or_create(username="api-bench", defaults={"is_superuser": True})
    system.is_superuser = True
    system.save()
    return key_for("api-bench", "bench-system"), key_for("u123", "bench-u123")


def serve() -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DJANGO_SECRET_KEY": "bench-only",
        "DJANGO_DEBUG": "0",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": URL,
        "API_THROTTLE_RATE": "1000000/min",
        "LOG_LEVEL": "WARNING",
    }
    command = [
        str(ROOT / ".venv/bin/gunicorn"),
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{PORT}",
        "--worker-class",
        "gthread",
        "--workers",
        str(WORKERS),
        "--threads",
        str(THREADS),
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env)  # noqa: S603 - our own command line
    for _ in range(100):
        try:
            httpx.get(f"{BASE}/api/schema/", timeout=1.0)
            return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    sys.exit("gunicorn did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _start_client(token: str, stop: float, threads: int, out: Any) -> None:
    times: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=BASE, headers={"Authorization": f"Bearer {token}"}) as http:
            while time.time() < stop:
                began = time.perf_counter()
                answer = http.post(
                    "/api/v1/instances", json={"definition": "bench-api", "variables": {}}
                )
                took = (time.perf_counter() - began) * 1000
                with lock:
                    times.append(took)
                    errors[0] += answer.status_code != 201

    pool = [threading.Thread(target=client) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    out.put((times, errors[0]))


def measure_starts(token: str, seconds: float, clients: int) -> tuple[float, float, float, int]:
    """`clients` connections from 2 client processes (one Python process
    cannot parse answers fast enough for many threads)."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    stop = time.time() + seconds
    procs = [
        ctx.Process(target=_start_client, args=(token, stop, clients // 2, out)) for _ in range(2)
    ]
    began = time.monotonic()
    for proc in procs:
        proc.start()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - began
    times = [t for part, _ in results for t in part]
    return len(times) / elapsed, pct(times, 0.5), pct(times, 0.99), sum(e for _, e in results)


def measure_tasks(token: str, view: str, requests: int = 300) -> tuple[float, float, int]:
    times = []
    with httpx.Client(base_url=BASE, headers={"Authorization": f"Bearer {token}"}) as http:
        for i in range(requests + 20):
            began = time.perf_counter()
            answer = http.get("/api/v1/tasks", params={"view": view, "limit": 50})
            if i >= 20:  # warm-up
                times.append((time.perf_counter() - began) * 1000)
            assert answer.status_code == 200, answer.text[:300]
            rows = len(answer.json()["results"])
    return pct(times, 0.5), pct(times, 0.95), rows


def measure_external(
    token: str, instances: int, *, batch: bool, workers: int = 8
) -> tuple[float, int]:
    ids = [
        services.instance_start(key="bench-external", variables={}, actor=None).pk
        for _ in range(instances)
    ]
    done = [0]
    finished_at = [0.0]
    lock = threading.Lock()

    def worker(n: int) -> None:
        with httpx.Client(base_url=BASE, headers={"Authorization": f"Bearer {token}"}) as http:
            idle = 0
            while idle < 3:
                tasks = http.post(
                    "/api/v1/external-tasks/fetch-and-lock",
                    json={
                        "worker_id": f"w{n}",
                        "topics": ["bench_a", "bench_b", "bench_c"],
                        "max_tasks": 20,
                        "lock_duration": 60,
                    },
                ).json()
                if not tasks:
                    idle += 1
                    time.sleep(0.05)
                    continue
                idle = 0
                if batch:
                    answer = http.post(
                        "/api/v1/external-tasks/complete",
                        json={
                            "worker_id": f"w{n}",
                            "tasks": [{"id": task["id"], "variables": {}} for task in tasks],
                        },
                    )
                    ok = sum(row["status"] == "succeeded" for row in answer.json())
                else:
                    ok = 0
                    for task in tasks:
                        answer = http.post(
                            f"/api/v1/external-tasks/{task['id']}/complete",
                            json={"worker_id": f"w{n}", "variables": {}},
                        )
                        ok += answer.status_code == 200
                with lock:
                    done[0] += ok
                    if done[0] == 3 * instances:
                        finished_at[0] = time.monotonic()

    began = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    finished = ProcessInstance.objects.filter(pk__in=ids, status="completed").count()
    # From the first fetch to the last completion (the workers idle after it).
    span = (finished_at[0] or time.monotonic()) - began
    return finished / span, finished


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--instances", type=int, default=2000)
    args = parser.parse_args()
    system, person = setup()
    from floor import floor

    base = floor()
    server = serve()
    try:
        # Reads first: the starts below add thousands of newer tasks of group g0
        # on top of the million (see docs/performance.md for what that does to
        # view=all).
        tasks = {view: measure_tasks(person, view) for view in ("offered", "mine", "all")}
        rate, p50, p99, errors = measure_starts(system, args.seconds, args.clients)
        external = {
            batch: measure_external(system, args.instances, batch=batch) for batch in (False, True)
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    print(f"\nbare floor (2 processes): {base:,.0f} transactions/s")
    print(
        f"| API under gunicorn ({WORKERS} gthread workers x {THREADS} threads), PostgreSQL"
        " | result | target |"
    )
    print("|---|---|---|")
    print(
        f"| POST /api/v1/instances, {args.clients} clients | {rate:.0f} req/s, p50 {p50:.1f} ms,"
        f" p99 {p99:.1f} ms, {errors} errors | >= 300 req/s, p99 <= 100 ms |"
    )
    for view, (t50, t95, rows) in tasks.items():
        print(
            f"| GET /api/v1/tasks?view={view} ({rows} rows of 50), 1,000,000 tasks |"
            f" p50 {t50:.1f} ms, p95 {t95:.1f} ms | p95 <= 30 ms |"
        )
    for batch, (rate, finished) in external.items():
        how = "one request for each fetched batch" if batch else "one request per task"
        print(
            f"| external workers, 3-step instances, 8 threads, completing {how} |"
            f" {rate:.0f} instances/s ({finished} of {args.instances} completed) | >= 200/s |"
        )


if __name__ == "__main__":
    main()
