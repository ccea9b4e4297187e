"""Growth simulation on PostgreSQL: a year of a busy site, then retention.

    .venv/bin/python bench/growth.py [--instances 1000000] [--purge-seconds 60]
                                     [--engine-instances 4000] [--build-only]

Builds (once; reused while the size matches) --instances ended expense
approvals spread over the last 365 days, as the engine would have left them:
each with personal variables (a name, an e-mail, a note), one decided task
with a form answer and a comment, and five audit rows (started, the service
step, the task's notification, the decision, the end), every row sealed by
the product's own sealer and read by every reader of the log. The definition
keeps personal data 90 days. Then measures and prints:
  - table sizes with everything kept (no retention);
  - the purge's throughput (instances and audit rows per second, one
    process, `purge_due` as the schedule runs it) for --purge-seconds;
  - the engine's throughput (a 3-step no-op flow, one worker process) with
    and without a purge running beside it, alternately, in the same run;
  - table sizes once everything past its retention is purged (VACUUM FULL);
  - exporting and verifying the oldest month of the audit log
    (`archive_audit`, `verify_audit --archive`).
Uses BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/orchestration_growth).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import benchdb

URL = benchdb.use("postgres://postgres@127.0.0.1:5432/orchestration_growth")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from orchestration import services  # noqa: E402
from orchestration.audit import chain, partitions  # noqa: E402
from orchestration.models import (  # noqa: E402
    AuditSeal,
    OutboxCursor,
    ProcessEvent,
    ProcessInstance,
)

EXPENSE = """
key: growth-expense
name: Expense (growth benchmark)
retention: 90d
subject: variables.email
variables:
  name: {type: string}
  email: {type: string}
  amount: {type: number}
  note: {type: string}
start: approve
steps:
  approve:
    type: approval
    title: "Expense of {{ name }}"
    assignees: {groups: [managers]}
    form:
      - {name: reason, type: text}
    outcomes: {approve: done, reject: done}
  done: {type: end}
"""
THREE = """
key: growth-three
name: Three no-op steps
start: a
steps:
  a: {type: service, handler: demo.check_budget, next: b}
  b: {type: service, handler: demo.check_budget, next: c}
  c: {type: service, handler: demo.check_budget, next: done}
  done: {type: end}
"""
TABLES = [
    "orchestration_processinstance", "orchestration_humantask", "orchestration_taskcomment",
    "orchestration_taskvote", "orchestration_processevent", "orchestration_auditseal",
]  # fmt: skip
NEW_STATE = '{"tokens": {}, "seq": 3, "runs": {}, "done": [], "joins": {}, "comp": null}'


def build(instances: int, *, reuse_purged: bool = False) -> int:
    """The year; returns the expense version's id."""
    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(i.purged_at) FROM orchestration_processinstance i"
                       " JOIN orchestration_processdefinition d ON d.id = i.definition_id"
                       " WHERE d.key = 'growth-expense'")  # fmt: skip
        have, purged = cursor.fetchone()
    if reuse_purged and have == instances:
        while chain.seal_pending(limit=2000):  # what an earlier run's purge wrote
            pass
    # Whole and untouched (a build that stopped, or a run that purged, is built
    # again, unless --reuse-purged accepts what an earlier run purged).
    whole = (
        AuditSeal.objects.exists() and not ProcessEvent.objects.filter(chain.unsealed()).exists()
    )
    if have == instances and whole and (purged == 0 or reuse_purged):
        print(f"reusing {instances:,} instances ({purged:,} purged by an earlier run)")
        return ProcessInstance.objects.filter(definition__key="growth-expense").values_list(
            "version_id", flat=True).first()  # fmt: skip
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE orchestration_taskcomment, orchestration_taskvote, orchestration_humantask,"
            " orchestration_steprun, orchestration_timer, orchestration_processevent,"
            " orchestration_auditseal, orchestration_auditarchive, orchestration_outboxcursor,"
            " orchestration_metricsample, orchestration_stepday, orchestration_edgeday,"
            " orchestration_legalhold, orchestration_processinstance,"
            " orchestration_processversion, orchestration_processdefinition,"
            " accounts_user_groups, auth_group_permissions, auth_group, accounts_user CASCADE"
        )
    from accounts.services import roles_sync
    from orchestration.demo import seed

    roles_sync()
    seed.seed_users()
    versions = {}
    for source in (EXPENSE, THREE):
        draft = services.version_save_draft(source=source, actor=None).version
        versions[draft.definition.key] = services.version_publish(version=draft, actor=None)
    version = versions["growth-expense"]
    # The audit table is partitioned by month: make the year's months first.
    today = datetime.now(UTC).date().replace(day=1)
    for back in range(13):
        partitions.make(partitions.add_months(today, -back))
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM accounts_user WHERE username = 'bob'")
        bob = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO orchestration_processinstance (definition_id, version_id, business_key,"
            " status, result, variables, state, error, parent_token, parent_step, created_at,"
            " updated_at, ended_at, traceparent, subject_key)"
            " SELECT %s, %s, 'EXP-' || i, 'completed', '',"
            "  jsonb_build_object('name', 'Person ' || i, 'email', 'person' || i || '@example.com',"
            "   'amount', i %% 5000, 'note', repeat('Trip to the customer, hotel and train. ', 4),"
            "   'approve', jsonb_build_object('reason', 'Fine for person ' || i)),"
            "  %s,"
            "  NULL, '', '', now() - ((i::float / %s) * 365 || ' days')::interval,"
            "  now() - ((i::float / %s) * 365 || ' days')::interval + interval '5 hours',"
            "  now() - ((i::float / %s) * 365 || ' days')::interval + interval '5 hours', '',"
            "  md5(i::text)"
            " FROM generate_series(1, %s) i",
            [version.definition_id, version.pk, NEW_STATE, instances, instances, instances,
             instances],
        )  # fmt: skip
        cursor.execute(
            "INSERT INTO orchestration_humantask (instance_id, token, step, execution, title,"
            " status, priority, due_at, form, outcomes, exclude, data, entry, candidate_users,"
            " candidate_groups, created_at, delegate_note, outcome, decided_by_id, decided_at)"
            " SELECT i.id, 't1', 'approve', 1, 'Expense of ' || (i.variables ->> 'name'),"
            "  'completed', 50, NULL, '[]', '[\"approve\", \"reject\"]', '[]',"
            "  jsonb_build_object('reason', 'Fine for ' || (i.variables ->> 'name')), NULL, '{}',"
            "  '{}', i.created_at, '', 'approve', %s, i.ended_at"
            " FROM orchestration_processinstance i WHERE i.version_id = %s",
            [bob, version.pk],
        )  # fmt: skip
        cursor.execute(
            "INSERT INTO orchestration_taskcomment (task_id, author_id, text, created_at)"
            " SELECT t.id, %s, 'Checked the receipts of ' || t.title, t.decided_at"
            " FROM orchestration_humantask t JOIN orchestration_processinstance i"
            "  ON i.id = t.instance_id WHERE i.version_id = %s",
            [bob, version.pk],
        )  # fmt: skip
        # The audit rows, in the order the engine writes them.
        for n, (kind, when, payload, actor) in enumerate([
            ("instance.started", "i.created_at",
             "jsonb_build_object('version', 1, 'business_key', i.business_key, 'entered',"
             " '[\"approve\"]'::jsonb)", "NULL"),
            ("notification", "i.created_at",
             "jsonb_build_object('reason', 'assigned', 'title', 'Expense of ' ||"
             " (i.variables ->> 'name'), 'users', '[]'::jsonb, 'groups', '[\"managers\"]'::jsonb)",
             "NULL"),
            ("task.completed", "i.ended_at",
             "jsonb_build_object('task', i.id, 'outcome', 'approve', 'data',"
             " i.variables -> 'approve', 'entered', '[\"done\"]'::jsonb, 'moves',"
             " '[[\"approve\", \"done\", 18000]]'::jsonb)", str(bob)),
            ("task.commented", "i.ended_at", "jsonb_build_object('task', i.id, 'comment', i.id)",
             str(bob)),
            ("instance.completed", "i.ended_at", "'{}'::jsonb", "NULL"),
        ]):  # fmt: skip
            cursor.execute(
                "INSERT INTO orchestration_processevent (created_at, kind, actor_id,"  # noqa: S608
                " definition_id, version_id, instance_id, step, from_status, to_status, reason,"
                " payload, request_id, ip, client)"
                f" SELECT {when} + interval '{n} milliseconds', %s, {actor}, i.definition_id,"
                "  i.version_id, i.id, '', 'running', 'waiting', '', " + payload + ","
                "  '', ('192.0.2.' || (i.id %% 250))::inet, ''"
                " FROM orchestration_processinstance i WHERE i.version_id = %s ORDER BY i.id",
                [kind, version.pk],
            )  # fmt: skip
        cursor.execute("VACUUM ANALYZE")
    print(f"built {instances:,} instances in {time.monotonic() - started:.0f} s; sealing...")
    sealed, begun = 0, time.monotonic()
    while True:
        done = chain.seal_pending(limit=2000)
        sealed += done
        if done == 0:
            break
    seconds = time.monotonic() - begun
    rate = sealed / max(seconds, 1e-9)
    print(f"sealed {sealed:,} audit rows in {seconds:.0f} s ({rate:,.0f} rows/s)")
    newest = AuditSeal.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    for name in ("mail", "webhooks", "metrics"):  # every reader of the log has read it all
        OutboxCursor.objects.update_or_create(name=name, defaults={"position": newest + 1,
                                                                     "offset": 0})  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return version.pk


def sizes() -> dict[str, int]:
    out = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " WHERE c.oid = %s::regclass OR c.oid IN (SELECT inhrelid FROM pg_inherits"
                " WHERE inhparent = %s::regclass)",
                [table, table],
            )  # fmt: skip
            out[table.removeprefix("orchestration_")] = int(cursor.fetchone()[0])
    return out


def _purging() -> None:
    """The purge as the schedule runs it (its default batch and duty), for
    longer than any engine run: a call's first round starts at once, so
    calling it again and again would work more than its duty."""
    from orchestration.retention import purge

    purge.purge_due(seconds=3600.0)


def _engine(stop: multiprocessing.synchronize.Event) -> None:
    from orchestration.jobs import engine_loop

    while not stop.is_set():
        engine_loop(seconds=3600, stop=stop.is_set)
    connections.close_all()


def engine_rate(n: int, *, with_purge: bool) -> tuple[float, int]:
    """Completed 3-step instances per second with one worker process (and a
    purge process beside it); returns (rate, instances the purge took)."""
    ProcessInstance.objects.filter(definition__key="growth-three").update(status="completed")
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    stop = ctx.Event()
    worker = ctx.Process(target=_engine, args=(stop,))
    purger = ctx.Process(target=_purging) if with_purge else None
    worker.start()
    if purger:
        purger.start()
    time.sleep(1.0)
    first = ProcessInstance.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    started_at = datetime.now(UTC) - timedelta(seconds=1)  # the purger started a second ago
    begun = time.monotonic()
    for _ in range(n):
        services.instance_start(key="growth-three", variables={}, actor=None)
    while (ProcessInstance.objects.filter(pk__gt=first, definition__key="growth-three",
                                          status="completed").count() < n
           and time.monotonic() - begun < 600):  # fmt: skip
        time.sleep(0.1)
    rate = n / (time.monotonic() - begun)
    stop.set()
    if purger:
        purger.terminate()  # mid-rest or mid-round: a round is one transaction
        purger.join(60)
    worker.join(60)
    purged = ProcessInstance.objects.filter(purged_at__gte=started_at).count()
    return rate, purged


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=1_000_000)
    parser.add_argument("--purge-seconds", type=float, default=60.0)
    parser.add_argument("--engine-instances", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2, help="engine rounds with and without")
    parser.add_argument(
        "--reuse-purged", action="store_true",
        help="reuse a build an earlier run purged part of (its sizes are not 'everything kept')",
    )  # fmt: skip
    parser.add_argument(
        "--build-only", action="store_true",
        help="build (or check) the year and its sizes, measure nothing else",
    )  # fmt: skip
    parser.add_argument(
        "--skip-rest", action="store_true",
        help="stop after the engine rounds (no full purge, sizes after it, or archive)",
    )  # fmt: skip
    args = parser.parse_args()
    from orchestration.retention import purge

    build(args.instances, reuse_purged=args.reuse_purged)
    kept_all = sizes()
    if args.build_only:
        for table, size in kept_all.items():
            print(f"{table:<16}{size / 2**20:>15,.0f} MB")
        return
    due = purge.due(datetime.now(UTC)).count()
    print(f"\n{due:,} of {args.instances:,} instances are past their 90 days\n")

    begun = time.monotonic()
    report = purge.purge_due(seconds=args.purge_seconds, duty=1.0)  # what it can do, no rests
    took = time.monotonic() - begun
    print(
        f"purge alone, {took:.0f} s: {report.removed.instances / took:,.0f} instances/s, "
        f"{report.removed.audit_rows / took:,.0f} audit rows/s "
        f"({report.removed.instances:,} instances, {report.removed.audit_rows:,} audit rows)\n"
    )

    duty = purge.settings.ORCHESTRATION_PURGE_DUTY
    print(f"{'engine, 3 steps':<28}{'inst/s':>8}{'purged beside':>15}  (the purge at duty {duty})")
    seen: dict[bool, list[float]] = {False: [], True: []}
    for n in range(args.rounds):
        for with_purge in (False, True) if n % 2 == 0 else (True, False):
            rate, purged = engine_rate(args.engine_instances, with_purge=with_purge)
            seen[with_purge].append(rate)
            label = "with the purge running" if with_purge else "alone"
            print(f"{label:<28}{rate:>8.1f}{purged:>15,}")
    alone, beside = statistics.median(seen[False]), statistics.median(seen[True])
    print(f"median: alone {alone:.1f}, with the purge {beside:.1f} ({(beside / alone - 1):+.1%})\n")

    if args.skip_rest:
        return
    begun = time.monotonic()
    left = purge.purge_due(seconds=7200, duty=1.0)
    took = time.monotonic() - begun
    print(
        f"the rest of the purge: {left.removed.instances:,} instances, "
        f"{left.removed.audit_rows:,} audit rows in {took:.0f} s "
        f"({left.removed.audit_rows / max(took, 1e-9):,.0f} audit rows/s)"
    )
    with connection.cursor() as cursor:
        for table in [*TABLES[:4], "orchestration_processevent"]:
            cursor.execute(f"VACUUM FULL {table}")
    with_retention = sizes()
    print(f"\n{'table':<16}{'everything kept':>18}{'90 days kept':>16}")
    for table, before in kept_all.items():
        print(f"{table:<16}{before / 2**20:>15,.0f} MB{with_retention[table] / 2**20:>13,.0f} MB")

    this_month = date.today().replace(day=1)
    oldest = next((p for p in partitions.partitions()
                   if p.month and p.month < this_month and p.rows), None)  # fmt: skip
    if oldest is not None:
        folder = Path(tempfile.mkdtemp(prefix="audit-archive-"))
        begun = time.monotonic()
        record = partitions.archive(oldest.month, folder)
        exported = time.monotonic() - begun
        path = folder / record.file_name
        begun = time.monotonic()
        verdict = partitions.verify_file(path, against_database=True)
        checked = time.monotonic() - begun
        print(
            f"\narchive {record.partition}: {record.rows:,} rows in {exported:.1f} s "
            f"({record.rows / exported:,.0f} rows/s), file {path.stat().st_size / 2**20:.1f} MB; "
            f"verify --archive {checked:.1f} s ({'ok' if not verdict.broken else verdict.broken})"
        )
        begun = time.monotonic()
        whole = chain.verify()
        print(
            f"verify_audit after it: {time.monotonic() - begun:.0f} s, "
            f"{'intact' if whole.ok else whole.broken}"
        )
    print(
        f"\nPostgreSQL {connection.pg_version}, {os.cpu_count()} cores, Python "
        f"{sys.version.split()[0]}, {date.today()}"
    )


if __name__ == "__main__":
    main()
