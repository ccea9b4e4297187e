"""Inbox benchmark on PostgreSQL: one command, prints a table.

    .venv/bin/python bench/inbox.py [--tasks 1000000] [--open 100000] [--requests 300]

Builds (once; reused while the sizes match) 5,000 users in 50 groups, each in
3 groups, and --tasks tasks over instances of one published approval process,
--open of them open and offered to one group each, the others decided (with a
vote by a random member). Then measures, in this process through Django's test
client with the production middleware (server time: request in, response out;
no network):
  - the inbox page ("My tasks", "Group queue", and page 2 of the group queue)
    for random users: p50/p95 ms and the SQL queries per page, which must not
    vary with the rows;
  - approving an open task from its inbox row (htmx post) as one of its group:
    p50/p95 ms;
  - sealing the audit log: rows/s, against the rate the engine writes audit
    rows in bench/engine.py's approval flow.
Uses BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/orchestration_inbox).
"""

from __future__ import annotations

import argparse
import html
import os
import random
import re
import time
from urllib.parse import parse_qsl

import benchdb

URL = benchdb.use("postgres://postgres@127.0.0.1:5432/orchestration_inbox")
os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from orchestration import services  # noqa: E402
from orchestration.audit import chain as audit_chain  # noqa: E402

USERS, GROUPS, PER_USER = 5000, 50, 3
# A task's candidates (after migration 0028): the group t % GROUPS.
OFFERED = ", '{}', ARRAY[(SELECT id FROM auth_group WHERE name = 'g' || (t %% %s))]"
SOURCE = """
key: bench-inbox
name: Bench inbox
start: ask
steps:
  ask:
    type: approval
    title: "Approve"
    assignees: {groups: [g0]}
    outcomes: {approve: done, reject: done}
  done: {type: end, result: ok}
"""


def build(tasks: int, open_: int) -> None:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        # Only the synthetic tasks count (the approvals measured add real ones).
        cursor.execute("SELECT count(*) FROM orchestration_humantask WHERE token LIKE 't%%'")
        have = cursor.fetchone()[0]
        cursor.execute(
            "SELECT count(*) FROM orchestration_humantask"
            " WHERE status = 'open' AND token LIKE 't%%'"
        )
        have_open = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM orchestration_taskvote")
        votes = cursor.fetchone()[0]
        # Due times spread over groups (build of an earlier bench correlated them).
        cursor.execute(
            "SELECT count(DISTINCT id % 50) FROM (SELECT id FROM orchestration_humantask"
            " WHERE status = 'open' ORDER BY due_at, id LIMIT 200) x"
        )
        spread = cursor.fetchone()[0] > 10
    if (have, have_open) == (tasks, open_) and votes >= tasks - open_ and spread:
        print(f"reusing {tasks:,} tasks ({open_:,} open)")
        return
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('orchestration_taskassignee') IS NOT NULL")
        # Before migration 0028 (an earlier commit, by bench/alternate.py) a
        # task's candidates were rows of their own.
        rows = cursor.fetchone()[0]
        cursor.execute(
            "TRUNCATE orchestration_taskvote, orchestration_humantask,"
            + (" orchestration_taskassignee," if rows else "")
            + " orchestration_webhookattempt, orchestration_webhookdelivery,"
            " orchestration_bufferedmessage,"
            " orchestration_processevent, orchestration_processinstance,"
            " orchestration_processversion, orchestration_processdefinition,"
            " tasks_ui_savedfilter, accounts_user_groups, auth_group_permissions, auth_group,"
            " accounts_user CASCADE"
        )
    from accounts.services import roles_sync

    roles_sync()
    draft = services.version_save_draft(source=SOURCE, actor=None).version
    version = services.version_publish(version=draft, actor=None)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO auth_group (name) SELECT 'g' || i FROM generate_series(0, %s) i",
            [GROUPS - 1],
        )
        cursor.execute(
            "INSERT INTO accounts_user (password, is_superuser, username, first_name, last_name,"
            " email, is_staff, is_active, date_joined, timezone, attributes, language)"
            " SELECT '', false, 'u' || i, '', '', '', false, true, now(), 'UTC', '{}', ''"
            " FROM generate_series(0, %s) i",
            [USERS - 1],
        )
        # User i is in groups i, i+1, i+2 (mod 50).
        cursor.execute(
            "INSERT INTO accounts_user_groups (user_id, group_id)"
            " SELECT u.id, g.id FROM accounts_user u"
            " CROSS JOIN generate_series(0, %s) k"
            " JOIN auth_group g ON g.name = 'g' || ((substr(u.username, 2)::int + k) %% %s)",
            [PER_USER - 1, GROUPS],
        )
        per_instance = 5
        instances = tasks // per_instance
        cursor.execute(
            "INSERT INTO orchestration_processinstance (definition_id, version_id, business_key,"
            " status, result, variables, state, error, parent_token, parent_step, created_at,"
            " updated_at) SELECT %s, %s, 'BK-' || i, 'waiting', '', '{}', '{}', NULL, '', '',"
            " now() - (i || ' seconds')::interval, now() FROM generate_series(1, %s) i",
            [version.definition_id, version.pk, instances],
        )
        cursor.execute("SELECT min(id) FROM orchestration_processinstance")
        first = cursor.fetchone()[0]
        # Task t: instance first + t / 5; open for the last `open_` ids; group t % 50.
        cursor.execute(
            "INSERT INTO orchestration_humantask (instance_id, step, token, execution, title,"  # noqa: S608
            " status, priority, due_at, form, outcomes, exclude, outcome, data, created_at,"
            " delegate_note, decided_at"
            + ("" if rows else ", candidate_users, candidate_groups")
            + ") SELECT %s + (t - 1) / %s, 'ask', 't' || t, 1, 'Approve ' || t,"
            " CASE WHEN t > %s THEN 'open' ELSE 'completed' END, 50 + t %% 7,"
            " now() + (((t::bigint * 7919) %% 1799999) || ' seconds')::interval, '[]',"
            ' \'["approve", "reject"]\','
            " '[]', CASE WHEN t > %s THEN '' ELSE 'approve' END, '{}',"
            " now() - (t || ' seconds')::interval, '',"
            " CASE WHEN t > %s THEN NULL ELSE now() END"
            # Each task offered to one group, t % 50.
            + ("" if rows else OFFERED)
            + " FROM generate_series(1, %s) t",
            [first, per_instance, tasks - open_, tasks - open_, tasks - open_,
             *([] if rows else [GROUPS]), tasks],
        )  # fmt: skip
        if rows:
            cursor.execute(
                "INSERT INTO orchestration_taskassignee (task_id, group_id, open)"
                " SELECT h.id, g.id, h.status = 'open' FROM orchestration_humantask h"
                " JOIN auth_group g ON g.name = 'g' || (h.id %% %s)",
                [GROUPS],
            )
        cursor.execute(
            "INSERT INTO orchestration_taskvote (task_id, voter_id, outcome, data, created_at)"
            " SELECT h.id, (SELECT min(id) FROM accounts_user) + (h.id * 7919) %% %s,"
            " 'approve', '{}', now() FROM orchestration_humantask h WHERE h.status = 'completed'",
            [USERS],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(f"built {tasks:,} tasks ({open_:,} open) in {time.monotonic() - started:.0f} s")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_pages(requests: int) -> list[tuple[str, float, float, str]]:
    from accounts.models import User

    users = list(User.objects.filter(username__startswith="u").order_by("?")[:requests])
    rows = []
    for label, query in [("My tasks", {}), ("Group queue", {"tab": "group"}),
                         ("Group queue, page 2", {"tab": "group", "page2": "1"})]:  # fmt: skip
        times, counts = [], set()
        for user in users:
            client = Client()
            client.force_login(user)
            params = {k: v for k, v in query.items() if k != "page2"}
            if "page2" in query:
                first = client.get("/inbox/", params).content.decode()
                link = re.search(r'href="\?([^"]+)" rel="next"', first)
                assert link, "the group queue has a second page"
                params = dict(parse_qsl(html.unescape(link.group(1))))
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                response = client.get("/inbox/", params)
                times.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.status_code
            counts.add(len(queries.captured_queries))
        rows.append((label, pct(times, 0.5), pct(times, 0.95), "/".join(map(str, sorted(counts)))))
    return rows


def measure_approvals(requests: int) -> tuple[float, float]:
    """Approve real tasks (started through the service, so the engine waits on
    them) sitting among the synthetic ones, each as a member of its group."""
    from accounts.models import User
    from orchestration.models import HumanTask

    members = list(User.objects.filter(groups__name="g0"))
    tasks = [
        HumanTask.objects.get(
            instance=services.instance_start(key="bench-inbox", variables={}, actor=None)
        )
        for _ in range(requests)
    ]
    times = []
    for task in tasks:
        client = Client()
        client.force_login(random.choice(members))  # noqa: S311 - not a secret
        began = time.perf_counter()
        response = client.post(f"/tasks/{task.pk}/decide/", {"outcome": "approve", "from": "row"},
                               HTTP_HX_REQUEST="true")  # fmt: skip
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.content[:300]
    return pct(times, 0.5), pct(times, 0.95)


def measure_sealing(rows: int) -> float:
    from orchestration.models import ProcessEvent

    while audit_chain.seal_pending(limit=5000):
        pass
    ProcessEvent.objects.bulk_create(
        [ProcessEvent(kind="bench.event", payload={"n": i, "note": "x" * 40}) for i in range(rows)],
        batch_size=5000,
    )
    began = time.perf_counter()
    sealed = 0
    while True:
        n = audit_chain.seal_pending()
        if not n:
            break
        sealed += n
    return sealed / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--open", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seal-rows", type=int, default=50_000)
    args = parser.parse_args()
    build(args.tasks, args.open)
    random.seed(1)
    pages = measure_pages(args.requests)
    approve = measure_approvals(args.requests)
    seal_rate = measure_sealing(args.seal_rows)
    print()
    print(f"| inbox, {args.tasks:,} tasks ({args.open:,} open), 5,000 users in 50 groups "
          "| p50 ms | p95 ms | SQL queries |")  # fmt: skip
    print("|---|---|---|---|")
    for label, p50, p95, counts in pages:
        print(f"| {label} | {p50:.1f} | {p95:.1f} | {counts} |")
    print(f"| approve from the inbox row | {approve[0]:.1f} | {approve[1]:.1f} | |")
    print(f"\naudit sealing: {seal_rate:,.0f} rows/s ({args.seal_rows:,} rows)")


if __name__ == "__main__":
    main()
