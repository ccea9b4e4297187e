"""Where an approval instance's time goes, phase by phase, on PostgreSQL: one
command, prints a table.

    .venv/bin/python bench/phases.py [--instances 300] [--rounds 2]

Runs the approval process of bench/engine.py (service, approval offered to 20
groups, service) in this one process, one phase at a time for --instances
instances: the starts, the worker's rounds that run the first step and open
the tasks, the decisions, the rounds that run the last step, and the side
sweeps (sealing, mail, webhooks). For each phase it prints PostgreSQL's CPU
(every backend of this host, from /proc), this process's CPU and the wall time,
per instance. Nothing runs beside it, so the figures are the work itself,
without the contention of bench/engine.py; the first round warms caches and
prepared statements. Uses bench/engine.py's database (BENCH_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import engine as bench  # sets Django up on the benchmark's database

from accounts.models import User
from orchestration import services
from orchestration.engine.worker import Worker
from orchestration.jobs import SIDE
from orchestration.models import HumanTask


def _analyze() -> None:
    """What autovacuum would have done by now (it is off on these machines):
    without it the planner keeps its picture of empty tables and every phase
    after the first scans them whole; not counted in the phase's figures."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in bench.ANALYZED:
            cursor.execute(f"ANALYZE orchestration_{table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    count = args.instances
    bench.setup()
    bench.reset()
    requester = User.objects.get(username="bench-requester").pk
    pool = list(
        User.objects.filter(username__startswith="bench-approver-").values_list("pk", flat=True)
    )
    worker = Worker("phases", batch=64)

    def starts() -> None:
        for _ in range(count):
            actor = User.objects.get(pk=requester)  # as a request loads it
            services.instance_start(key="bench-approval", variables={}, actor=actor)

    def rounds() -> None:
        while worker.work_once():
            pass

    def decisions() -> None:
        open_tasks = HumanTask.objects.filter(status="open").values_list("pk", flat=True)
        for n, task in enumerate(list(open_tasks[:count])):
            actor = User.objects.get(pk=pool[n % len(pool)])
            services.task_complete(task_id=task, outcome="approve", data={}, actor=actor)

    def side() -> None:
        for sweep in (*SIDE[0], *SIDE[1]):
            sweep()

    phases: list[tuple[str, Callable[[], None]]] = [
        ("start", starts), ("first step; the task opens", rounds), ("decision", decisions),
        ("last step; the instance ends", rounds), ("side sweeps", side),
    ]  # fmt: skip
    print(f"{'round':>5}  {'phase':<30}{'PostgreSQL':>12}{'this process':>14}{'wall':>8}"
          "   (ms per instance)")  # fmt: skip
    for number in range(1, args.rounds + 1):
        totals = [0.0, 0.0, 0.0]
        for name, run in phases:
            _analyze()
            pg, cpu, wall = bench._postgres_cpu(), time.process_time(), time.perf_counter()
            run()
            spent = [
                1000 * (bench._postgres_cpu() - pg) / count,
                1000 * (time.process_time() - cpu) / count,
                1000 * (time.perf_counter() - wall) / count,
            ]
            totals = [a + b for a, b in zip(totals, spent, strict=True)]
            print(f"{number:>5}  {name:<30}{spent[0]:>12.2f}{spent[1]:>14.2f}{spent[2]:>8.2f}")
        print(f"{number:>5}  {'all':<30}{totals[0]:>12.2f}{totals[1]:>14.2f}{totals[2]:>8.2f}")
    worker.close()


if __name__ == "__main__":
    main()
