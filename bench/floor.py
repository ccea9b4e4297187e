"""The machine's floor for the benchmarks: minimal Django ORM transactions
(lock one row with SKIP LOCKED, update one row, insert one) from 2 processes,
the least a transition costs, so that results can be read as a ratio on a
noisy machine. Imported by bench/engine.py and bench/api.py after Django is set up.
"""

from __future__ import annotations

import multiprocessing
import time

from django.db import connection, connections, models, transaction
from django.db.models import F


class FloorItem(models.Model):
    n = models.IntegerField()

    class Meta:
        app_label = "orchestration"
        db_table = "bench_floor_item"
        managed = False

    def __str__(self) -> str:
        return f"item {self.pk}"


class FloorLog(models.Model):
    n = models.IntegerField()

    class Meta:
        app_label = "orchestration"
        db_table = "bench_floor_log"
        managed = False

    def __str__(self) -> str:
        return f"log {self.pk}"


def _floor_worker(
    count: int, go: multiprocessing.synchronize.Event, out: multiprocessing.Queue
) -> None:
    go.wait()
    start = time.perf_counter()
    for n in range(count):
        # The floor: minimal Django ORM transactions (lock one row with
        # SKIP LOCKED, update one row, insert one).
        with transaction.atomic():
            item = FloorItem.objects.select_for_update(skip_locked=True).order_by("id").first()
            if item is not None:
                FloorItem.objects.filter(pk=item.pk).update(n=F("n") + 1)
            FloorLog.objects.create(n=n)
    out.put(time.perf_counter() - start)
    connections.close_all()


def floor(processes: int = 2, count: int = 3000) -> float:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_floor_item (id serial PRIMARY KEY, n int)")
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_floor_log (id serial PRIMARY KEY, n int)")
        cursor.execute("TRUNCATE bench_floor_item, bench_floor_log RESTART IDENTITY")
        cursor.execute("INSERT INTO bench_floor_item (n) SELECT 0 FROM generate_series(1, 16)")
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    go, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_floor_worker, args=(count, go, out)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    time.sleep(0.5)
    go.set()
    elapsed = max(out.get(timeout=300) for _ in procs)
    for proc in procs:
        proc.join()
    return processes * count / elapsed
