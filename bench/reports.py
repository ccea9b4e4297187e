"""SLA report and /metrics benchmark on PostgreSQL: one command, prints a table.

    .venv/bin/python bench/reports.py [--instances 1000000] [--open 20000] [--requests 200]

Builds (once; reused while the sizes match) --instances instances of the demo's
purchase approval spread over the last 365 days, nearly all ended, --open of
them waiting in the approval (a tenth overdue; nearly all over the definition's
`sla`, listed by the report) and a few in an incident, with
the daily roll-ups the metrics fold would have kept for them (StepDay,
EdgeDay: per day and step, durations in the report's buckets). Then measures,
in this process through Django's test client with the production middleware
(server time, no network):
  - the Reports page for the last 30 and 365 days, as an operator;
  - GET /api/v1/reports/purchase-approval (30 days), as an operator's session;
  - a /metrics scrape (the engine's gauges read from these tables);
each p50/p95 ms and its SQL queries. Uses BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/orchestration_reports).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from datetime import timedelta
from pathlib import Path

import benchdb

URL = benchdb.use("postgres://postgres@127.0.0.1:5432/orchestration_reports")
os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
os.environ["ORCHESTRATION_METRICS_TOKEN"] = "bench"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from orchestration import clock, services  # noqa: E402
from orchestration.reports import sketch  # noqa: E402

SOURCE = (Path(__file__).resolve().parents[1]
          / "orchestration/demo/definitions/purchase-approval.yaml").read_text()  # fmt: skip
# Where a purchase goes and how long it stays (seconds: median, spread).
STEPS = {"check_budget": (0.3, 0.5), "route": (0.0, 0.0), "manager_approval": (5 * 3600, 1.2),
         "place_order": (1.5, 0.6)}  # fmt: skip
EDGES = [("", "check_budget", 1.0), ("check_budget", "route", 1.0),
         ("route", "manager_approval", 0.8), ("route", "auto_approved", 0.2),
         ("manager_approval", "place_order", 0.7), ("manager_approval", "rejected", 0.1),
         ("place_order", "approved", 0.7)]  # fmt: skip


def build(instances: int, open_: int) -> None:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orchestration_processinstance")
        have = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM orchestration_humantask WHERE status = 'open'")
        have_open = cursor.fetchone()[0]
    if (have, have_open) == (instances, open_):
        print(f"reusing {instances:,} instances ({open_:,} waiting)")
        return
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE orchestration_stepday, orchestration_edgeday, orchestration_humantask,"
            " orchestration_processevent, orchestration_processinstance,"
            " orchestration_processversion, orchestration_processdefinition,"
            " accounts_user_groups, auth_group_permissions, auth_group, accounts_user CASCADE"
        )
    from accounts.services import roles_sync
    from orchestration.demo import seed

    roles_sync()
    seed.seed_users()
    draft = services.version_save_draft(source=SOURCE, actor=None).version
    version = services.version_publish(version=draft, actor=None)
    ended = instances - open_ - 50
    with connection.cursor() as cursor:
        # Ended ones over the last 365 days, then the waiting ones, then 50 incidents.
        cursor.execute(
            "INSERT INTO orchestration_processinstance (definition_id, version_id, business_key,"
            " status, result, variables, state, error, parent_token, parent_step, created_at,"
            " updated_at, ended_at, traceparent)"
            " SELECT %s, %s, 'BK-' || i,"
            "  CASE WHEN i <= %s THEN 'completed' WHEN i <= %s THEN 'waiting' ELSE 'incident' END,"
            "  '', '{}', '{}', NULL, '', '',"
            "  now() - ((i::float / %s) * 365 || ' days')::interval, now(),"
            "  CASE WHEN i <= %s THEN now() - ((i::float / %s) * 365 || ' days')::interval"
            "   + interval '5 hours' END, ''"
            " FROM generate_series(1, %s) i",
            [version.definition_id, version.pk, ended, ended + open_, instances, ended,
             instances, instances],
        )  # fmt: skip
        # The live ones' token, parked at the approval since they started (what
        # the report's "over the expected duration" reads).
        cursor.execute(
            "UPDATE orchestration_processinstance SET state = jsonb_build_object('tokens',"
            " jsonb_build_object('t1', jsonb_build_object('step', 'manager_approval',"
            " 'wait', 'task', 'since', to_jsonb(created_at))))"
            " WHERE status IN ('waiting', 'incident')"
        )
        cursor.execute(
            "INSERT INTO orchestration_humantask (instance_id, token, step, execution, title,"
            " status, priority, due_at, form, outcomes, exclude, data, entry,"
            " candidate_users, candidate_groups, created_at, delegate_note, outcome)"
            " SELECT i.id, 't1', 'manager_approval', 1, 'Approve', 'open', 50,"
            "  CASE WHEN i.id % 10 = 0 THEN now() - interval '1 hour'"
            "   ELSE now() + interval '1 day' END, '[]', '[\"approve\", \"reject\"]', '[]',"
            "  '{}', NULL, '{}', ARRAY[(SELECT id FROM auth_group WHERE name = 'managers')],"
            "  i.created_at, '', ''"
            " FROM orchestration_processinstance i WHERE i.status = 'waiting'"
        )
    _rollups(version.pk, instances)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"built {instances:,} instances in {time.monotonic() - started:.0f} s")


def _rollups(version: int, instances: int) -> None:
    """What the fold would have kept for them: one row per day and step."""
    from orchestration.models import EdgeDay, StepDay

    rng = random.Random(21)  # noqa: S311 - synthetic data, not secrets
    today = clock.now().date()
    per_day = instances // 365
    steps, edges = [], []
    for back in range(365):
        day = today - timedelta(days=back)
        whole: dict[str, int] = {}
        for _ in range(200):  # durations sampled, scaled to the day's count
            whole = sketch.add(whole, rng.lognormvariate(0, 1.2) * 5 * 3600)
        scale = per_day / 200
        steps.append(StepDay(day=day, version_id=version, step="", started=per_day,
                             completed=int(per_day * 0.97), failed=int(per_day * 0.01),
                             durations={k: int(v * scale) for k, v in whole.items()}))  # fmt: skip
        for step, (median, spread) in STEPS.items():
            counts: dict[str, int] = {}
            for _ in range(200):
                seconds = median * rng.lognormvariate(0, spread) if median else 0.0
                counts = sketch.add(counts, seconds)
            steps.append(StepDay(day=day, version_id=version, step=step, left=per_day,
                                 durations={k: int(v * scale) for k, v in counts.items()},
                                 escalations={"0": per_day // 20, "1": per_day // 100}
                                 if step == "manager_approval" else {}))  # fmt: skip
        edges += [EdgeDay(day=day, version_id=version, source=a, target=b,
                          taken=int(per_day * share)) for a, b, share in EDGES]  # fmt: skip
    StepDay.objects.bulk_create(steps, batch_size=2000)
    EdgeDay.objects.bulk_create(edges, batch_size=2000)


def measure(client: Client, url: str, n: int, **headers: str) -> tuple[float, float, int]:
    times = []
    for i in range(n):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        if i == 0:
            count = len(queries)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    build(args.instances, args.open)
    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username="otto"))
    rows = [
        ("report page, 30 days", "/reports/purchase-approval/", {}),
        ("report page, 365 days", "/reports/purchase-approval/?days=365", {}),
        ("report API, 30 days", "/api/v1/reports/purchase-approval", {}),
        ("/metrics scrape", "/metrics", {"Authorization": "Bearer bench"}),
    ]
    print(f"{args.instances:,} instances, {args.open:,} waiting; {args.requests} requests each")
    print(f"{'what':<26} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, url, headers in rows:
        measure(client, url, 5, **headers)  # warm
        p50, p95, queries = measure(client, url, args.requests, **headers)
        print(f"{name:<26} {p50:8.1f} {p95:8.1f} {queries:8d}")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        print(cursor.fetchone()[0].split(",")[0], f"{os.cpu_count()} cores")


if __name__ == "__main__":
    main()
