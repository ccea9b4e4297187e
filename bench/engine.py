"""Engine benchmark on PostgreSQL: one command, prints a table.

    .venv/bin/python bench/engine.py [--instances 3000] [--approvals 1500]

Measures, with 1 and 2 worker processes (each running the production engine
loop, orchestration.jobs.engine_loop):
  - the bare floor: minimal Django ORM transactions that lock one row with SKIP
    LOCKED, update one row and insert one, from 2 processes (the least a
    transition costs), so results can be read as a ratio on a noisy machine;
  - a 3-step process (three no-op service steps and an end): completed
    instances/s, counted from the first start to the last end, as the Camunda
    benchmark counts, plus p50/p99 start-to-end latency and worker RSS;
  - an approval process (service, approval, service, end): completed instances/s
    with the benchmark deciding each task through services.task_complete (what
    the inbox calls) as soon as it opens, and the approval round trip: from the
    decision's commit to the commit of the next service step's result (both
    seen by a LISTENing client, through triggers that NOTIFY at commit).
Starts come from 2 client processes, each starting as a real requester loaded
per start (the start permission check included); decisions from 2 more, each
deciding as an approver drawn from a pool of 200 in 20 groups, loaded per
decision as a request would. Every client keeps its connection until the
scenario ends, so PostgreSQL's CPU is counted for every backend. With
BENCH_PROFILE set to a folder, each worker's engine loop (its main thread) is
profiled there (cProfile); with BENCH_THREADS, each worker writes its
threads' CPU seconds there; with BENCH_GC=1, each worker prints the time its
garbage collector took (and how many collections of each generation). Uses the
database in BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/orchestration_bench), created and migrated if
needed; its engine tables are emptied and VACUUMed between scenarios.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import benchdb

URL = benchdb.use("postgres://postgres@127.0.0.1:5432/orchestration_bench")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from floor import floor  # noqa: E402

from orchestration import services  # noqa: E402
from orchestration.handlers import handler  # noqa: E402
from orchestration.models import (  # noqa: E402
    ProcessEvent,
    ProcessInstance,
)


@handler("bench.noop")
def noop(variables: object, context: object) -> None:
    return None


THREE = """
key: bench-three
name: Three no-op steps
start: a
steps:
  a: {type: service, handler: bench.noop, next: b}
  b: {type: service, handler: bench.noop, next: c}
  c: {type: service, handler: bench.noop, next: done}
  done: {type: end, result: done}
"""
TIMER = """
key: bench-timer
name: A two-second wait
start: nap
steps:
  nap: {type: wait, timer: 2s, next: done}
  done: {type: end, result: done}
"""
APPROVAL = """
key: bench-approval
name: Service, approval, service
start: before
steps:
  before: {type: service, handler: bench.noop, next: ask}
  ask:
    type: approval
    assignees:
      groups: [bench0, bench1, bench2, bench3, bench4, bench5, bench6, bench7, bench8, bench9,
               bench10, bench11, bench12, bench13, bench14, bench15, bench16, bench17, bench18,
               bench19]
    outcomes: {approve: after}
  after: {type: service, handler: bench.noop, next: done}
  done: {type: end, result: done}
"""
APPROVAL_ESCALATING = APPROVAL.replace("key: bench-approval", "key: bench-approval-esc").replace(
    "    outcomes: {approve: after}",
    "    due: 3d\n"
    "    escalation:\n"
    "      - {after: 1d, action: remind}\n"
    "      - {after: 2d, action: reassign, to: {groups: [bench0]}}\n"
    "    outcomes: {approve: after}",
)
# Two events attached to the approval (a withdrawal message and a 30-day
# timer) that never come: what waiting for them costs (--events; commits
# before attached events cannot publish it).
APPROVAL_EVENTS = APPROVAL.replace("key: bench-approval", "key: bench-approval-events").replace(
    "    outcomes: {approve: after}",
    "    events:\n"
    "      - {message: withdrawn, next: done}\n"
    "      - {timer: 30d, next: done}\n"
    "    outcomes: {approve: after}",
)
ESCALATE = """
key: bench-escalate
name: An approval nobody decides, decided by its escalation after two seconds
start: ask
steps:
  ask:
    type: approval
    assignees: {groups: [bench0]}
    escalation: [{after: 2s, action: decide, outcome: approve}]
    outcomes: {approve: done}
  done: {type: end, result: done}
"""


def pending_timers(count: int) -> None:
    """`count` escalation timers due tomorrow, on one idle instance: the load of
    a deployment with many open tasks."""
    from orchestration.engine.state import new_state
    from orchestration.models import ProcessVersion

    version = ProcessVersion.objects.get(definition__key="bench-timer", status="published")
    holder = ProcessInstance.objects.create(
        definition=version.definition, version=version, status="waiting", state=new_state()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO orchestration_timer (instance_id, token, step, kind, due_at, status,"
            " payload, created_at) SELECT %s, '1', 'nap', 'escalation',"
            " now() + interval '1 day', 'pending', '{\"level\": 0}', now()"
            " FROM generate_series(1, %s)",
            [holder.pk, count],
        )
        cursor.execute("VACUUM ANALYZE orchestration_timer")


def reset() -> None:
    with connection.cursor() as cursor:
        tables = [
            "orchestration_taskvote", "orchestration_taskexclusion", "orchestration_taskcomment",
            "orchestration_attachment", "orchestration_metricsample",
            "orchestration_taskassignee",  # a task's candidates before migration 0028
            "orchestration_humantask",
            "orchestration_timer", "orchestration_steprun", "orchestration_loopheartbeat",
            "orchestration_webhookattempt", "orchestration_webhookdelivery",
            "orchestration_webhookcursor", "orchestration_outboxcursor",
            "orchestration_bufferedmessage", "orchestration_sweepfailure",
            "orchestration_legalhold",
            # The audit tables refuse DELETE (a trigger); the bench empties them whole.
            "orchestration_auditseal", "orchestration_processevent",
            "orchestration_processinstance",
        ]  # fmt: skip
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        present = {row[0] for row in cursor.fetchall()}
        cursor.execute(f"TRUNCATE {', '.join(t for t in tables if t in present)} RESTART IDENTITY")
        # Autovacuum is off on these machines: without this, later scenarios
        # would wade through the dead rows of earlier ones.
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT pg_stat_reset()")  # per-table counts from here on


APPROVERS, GROUPS = 200, 20
RT_TRIGGERS = """
CREATE OR REPLACE FUNCTION bench_rt_decided() RETURNS trigger AS $$
BEGIN PERFORM pg_notify('bench_rt', 'd' || NEW.instance_id); RETURN NULL; END $$
LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION bench_rt_completed() RETURNS trigger AS $$
BEGIN PERFORM pg_notify('bench_rt', 'c' || NEW.id); RETURN NULL; END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS bench_rt_decided ON orchestration_humantask;
CREATE TRIGGER bench_rt_decided AFTER UPDATE ON orchestration_humantask FOR EACH ROW
  WHEN (OLD.status = 'open' AND NEW.status = 'completed') EXECUTE FUNCTION bench_rt_decided();
DROP TRIGGER IF EXISTS bench_rt_completed ON orchestration_processinstance;
CREATE TRIGGER bench_rt_completed AFTER UPDATE ON orchestration_processinstance FOR EACH ROW
  WHEN (OLD.status <> 'completed' AND NEW.status = 'completed')
  EXECUTE FUNCTION bench_rt_completed();
CREATE OR REPLACE FUNCTION bench_task_opened() RETURNS trigger AS $$
BEGIN PERFORM pg_notify('bench_task', NEW.id::text); RETURN NULL; END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS bench_task_opened ON orchestration_humantask;
CREATE TRIGGER bench_task_opened AFTER INSERT ON orchestration_humantask FOR EACH ROW
  EXECUTE FUNCTION bench_task_opened();
"""
DROP_RT_TRIGGERS = """
DROP TRIGGER IF EXISTS bench_rt_decided ON orchestration_humantask;
DROP TRIGGER IF EXISTS bench_rt_completed ON orchestration_processinstance;
DROP TRIGGER IF EXISTS bench_task_opened ON orchestration_humantask;
"""


def setup(*, events: bool = False) -> None:
    call_command("migrate", verbosity=0)
    for source in (THREE, APPROVAL, TIMER, APPROVAL_ESCALATING, ESCALATE,
                   *([APPROVAL_EVENTS] if events else [])):  # fmt: skip
        draft = services.version_save_draft(source=source, actor=None).version
        if draft.status == "draft":
            services.version_publish(version=draft, actor=None)
    from django.contrib.auth.models import Group

    from accounts.models import User
    from accounts.roles import Role
    from accounts.services import roles_sync

    roles_sync()
    requester, _ = User.objects.get_or_create(username="bench-requester")
    requester.groups.add(Group.objects.get(name=Role.REQUESTER))
    groups = [Group.objects.get_or_create(name=f"bench{n}")[0] for n in range(GROUPS)]
    for n in range(APPROVERS):
        user, _ = User.objects.get_or_create(username=f"bench-approver-{n}")
        user.groups.add(groups[n % GROUPS])


# ---- what each table did ---------------------------------------------------------------
# Per table: rows inserted, updated (of which HOT), deleted, read (by sequential
# and index scans), and sequential scans.
STATS = ("ins", "upd", "hot", "del", "read", "seq")
_STATS_SQL = (
    "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del,"
    " coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0), coalesce(seq_scan, 0)"
    " FROM {view} WHERE schemaname = 'public' AND relname LIKE 'orchestration_%%'"
)
Stats = dict[str, list[int]]
# The harness reads no table while a scenario runs (only PostgreSQL's
# notifications, the newest audit row and seal), so these counts are the product's.


def table_stats(view: str = "pg_stat_user_tables") -> Stats:
    with connection.cursor() as cursor:
        cursor.execute(_STATS_SQL.format(view=view))
        # The audit table's monthly partitions count as the table (migration 0041).
        found: Stats = {}
        for name, *counts in cursor.fetchall():
            table = re.sub(r"_(y\d{4}m\d{2}|default)$", "", name.removeprefix("orchestration_"))
            found[table] = [a + b for a, b in zip(found.get(table, [0] * len(counts)), counts,
                                                  strict=True)]  # fmt: skip
        return found


# ---- processes ---------------------------------------------------------------------------
# What the processes observe (--compare): the metrics fold among the side
# sweeps (on in production), and tracing with an exporter that drops the
# spans (off unless configured), in the workers and the clients alike.
OBSERVE = {"metrics": True, "tracing": False}


def _observe() -> None:
    from orchestration import jobs

    if not OBSERVE["metrics"]:
        jobs.SIDE = (jobs.SIDE[0], tuple(s for s in jobs.SIDE[1] if s is not jobs.fold_metrics))
    if OBSERVE["tracing"]:
        from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

        from orchestration import tracing

        class Discard(SpanExporter):
            def export(self, spans: Any) -> SpanExportResult:
                return SpanExportResult.SUCCESS

        tracing.configure(exporter=Discard())


def _thread_cpu(folder: Path) -> None:
    """This process's threads' CPU seconds so far, by Python thread name
    (step_0..7 as "step"; "ended": threads gone by now), as JSON in `folder`."""
    import json
    import re
    import threading

    tick = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: re.sub(r"_\d+$", "", t.name) for t in threading.enumerate()}
    used: dict[str, float] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(task.name), "other")
        used[name] = used.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    used["ended"] = max(0.0, time.process_time() - sum(used.values()))
    label = "-".join(f"{k}{int(v)}" for k, v in OBSERVE.items())
    (folder / f"threads-{label}-{os.getpid()}.json").write_text(json.dumps(used))


def _worker(stop: multiprocessing.synchronize.Event, cpu: multiprocessing.Queue) -> None:
    from orchestration.jobs import engine_loop

    _observe()
    if os.environ.get("BENCH_GC"):
        import gc

        spent = {"t": 0.0, "start": 0.0, "n": [0, 0, 0]}

        def _gc(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                spent["start"] = time.process_time()
            else:
                spent["t"] += time.process_time() - spent["start"]
                spent["n"][info["generation"]] += 1

        gc.callbacks.append(_gc)
    begun = time.process_time()  # what follows only: not the observing's set-up
    if os.environ.get("BENCH_PROFILE"):  # a folder: each worker's profile goes there
        import cProfile

        profile = cProfile.Profile()
        profile.runcall(engine_loop, seconds=3600, stop=stop.is_set)
        label = "-".join(f"{k}{int(v)}" for k, v in OBSERVE.items())
        profile.dump_stats(f"{os.environ['BENCH_PROFILE']}/worker-{label}-{os.getpid()}.prof")
    else:
        engine_loop(seconds=3600, stop=stop.is_set)
    if os.environ.get("BENCH_THREADS"):  # a folder: each thread's CPU seconds, by name
        _thread_cpu(Path(os.environ["BENCH_THREADS"]))
    if os.environ.get("BENCH_GC"):
        print(f"gc {OBSERVE} {spent['t'] * 1000:.0f} ms {spent['n']}", file=sys.stderr)
    cpu.put(("workers", time.process_time() - begun))


def _starter(
    key: str, count: int, go: multiprocessing.synchronize.Event,
    stop: multiprocessing.synchronize.Event, cpu: multiprocessing.Queue,
) -> None:  # fmt: skip
    from accounts.models import User

    _observe()
    begun = time.process_time()
    requester = User.objects.get(username="bench-requester").pk
    go.wait()
    for _ in range(count):
        # As a request would: the user loaded afresh, the start permission checked.
        actor = User.objects.get(pk=requester)
        services.instance_start(key=key, variables={}, actor=actor)
    cpu.put(("starters", time.process_time() - begun))
    stop.wait()  # keep the connection: its backend's CPU is counted at the end
    connections.close_all()


def _postgres_cpu() -> float:
    """CPU seconds used so far by this host's PostgreSQL processes."""
    total = 0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name, fields = stat[stat.index("(") + 1 : stat.rindex(")")], stat.rsplit(")", 1)[1].split()
        if name.startswith("postgres"):
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _decider(
    me: int, ready: multiprocessing.synchronize.Event, stop: multiprocessing.synchronize.Event,
    cpu: multiprocessing.Queue,
) -> None:  # fmt: skip
    import psycopg

    from accounts.models import User
    from orchestration.exceptions import InstanceConflict

    _observe()
    begun = time.process_time()
    pool = list(
        User.objects.filter(username__startswith="bench-approver-").values_list("pk", flat=True)
    )
    decisions = 0
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("LISTEN bench_task")
        ready.set()
        while not stop.is_set():
            # Each decider takes the tasks of its parity, as two users would split
            # a queue; it learns of them from a NOTIFY at commit, not by polling
            # (so the harness reads no table and the counts are the product's).
            for note in conn.notifies(timeout=0.05, stop_after=200):
                task_id = int(note.payload)
                if task_id % CLIENTS != me:
                    continue
                # As a request would: a user from the pool, loaded for this decision.
                actor = User.objects.get(pk=pool[decisions % len(pool)])
                decisions += 1
                try:
                    services.task_complete(task_id=task_id, outcome="approve", data={}, actor=actor)
                except InstanceConflict:
                    continue
    cpu.put(("deciders", time.process_time() - begun))
    connections.close_all()


def _monitor(ready: multiprocessing.synchronize.Event, stop: multiprocessing.synchronize.Event,
             out: multiprocessing.Queue, completed: Any) -> None:  # fmt: skip
    """Stamps when decisions and completions commit (the triggers NOTIFY at
    commit), and counts the completions."""
    import psycopg

    seen: dict[str, float] = {}
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("LISTEN bench_rt")
        ready.set()
        while not stop.is_set():
            for note in conn.notifies(timeout=0.2):
                seen.setdefault(note.payload, time.time())
                if note.payload.startswith("c"):
                    with completed.get_lock():
                        completed.value += 1
    out.put(("seen", seen))


# Client processes of each kind (starters; deciders for the approval process),
# standing in for the web processes and API callers of a deployment.
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "2"))
ROLES = ("starters", "workers", "deciders", "postgres")


# taskassignee: for the commits before migration 0028 (bench/alternate.py).
ANALYZED = ("processinstance", "humantask", "steprun", "processevent", "taskassignee",
            "taskvote", "timer")  # fmt: skip


def _analyzer(stop: multiprocessing.synchronize.Event) -> None:
    """What autovacuum does in production (it is off on these machines): keep
    the planner's idea of each table's size current. Without it every backend
    keeps the plans it made while the tables were empty (the foreign-key
    checks' plans above all: a sequential scan of the instance and task tables
    per inserted row, for the rest of the scenario). Autovacuum's own rule
    (a table is analyzed once 50 rows + 10 % of it changed since the last
    time), checked every second (autovacuum checks every minute): analyzing
    every table every second cost PostgreSQL about 1 ms per instance, which
    the figures then charged to the engine."""
    import psycopg

    tables = [f"orchestration_{table}" for table in ANALYZED]
    with psycopg.connect(URL, autocommit=True) as conn:
        while not stop.wait(1.0):
            due = conn.execute(
                "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                " WHERE s.relname = ANY(%s)"
                " AND s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)",
                [tables],
            ).fetchall()
            for (table,) in due:
                conn.execute(f"ANALYZE {table}")


def unsealed_count() -> int:
    """About how many audit rows wait for a seal: ids past the newest seal's
    high-water mark (two rows read, so that the harness costs nothing to speak of)."""
    with connection.cursor() as cursor:
        if "orchestration_auditseal" not in connection.introspection.table_names(cursor):
            # A release that sealed each row (run against an older commit).
            cursor.execute("SELECT count(*) FROM orchestration_processevent WHERE seal IS NULL")
        else:
            cursor.execute(
                "SELECT coalesce((SELECT max(id) FROM orchestration_processevent), 0) -"
                " coalesce((SELECT high_water FROM orchestration_auditseal ORDER BY seq DESC"
                " LIMIT 1), 0)"
            )
        return max(0, int(cursor.fetchone()[0]))


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_scenario(
    key: str, instances: int, workers: int, *, approvals: bool, pending: int = 0
) -> dict[str, Any]:
    reset()
    if pending:
        pending_timers(pending)
    with connection.cursor() as cursor:
        cursor.execute(RT_TRIGGERS)
    connections.close_all()  # children must not share the parent's socket
    ctx = multiprocessing.get_context("fork")
    stop, go, cpu, out = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
    completed = ctx.Value("i", 0)
    ready = ctx.Event()
    monitors = [ctx.Process(target=_monitor, args=(ready, stop, out, completed)),
                ctx.Process(target=_analyzer, args=(stop,))]  # fmt: skip
    for proc in monitors:
        proc.start()
    ready.wait(30)
    procs = [ctx.Process(target=_worker, args=(stop, cpu)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    starters = [
        ctx.Process(target=_starter, args=(key, instances // CLIENTS, go, stop, cpu))
        for _ in range(CLIENTS)
    ]
    for proc in starters:
        proc.start()
    deciders = []
    if approvals:  # two "web processes" deciding, each taking the tasks it is told of
        for i in range(CLIENTS):
            listening = ctx.Event()
            deciders.append(ctx.Process(target=_decider, args=(i, listening, stop, cpu)))
            deciders[-1].start()
            listening.wait(30)
    time.sleep(1.0)  # let everything connect
    total = instances // CLIENTS * CLIENTS
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_reset()")  # per-table counts from here on
    pg_before = _postgres_cpu()
    go.set()
    begun = time.time()
    peak_rss = 0
    backlog = 0  # the most audit rows seen waiting for their seal
    while True:
        time.sleep(0.25)
        peak_rss = max([peak_rss, *(_rss_kb(p.pid) for p in procs)])
        backlog = max(backlog, unsealed_count())
        if completed.value >= total or time.time() - begun > 600:
            break
        if any(p.exitcode not in (None, 0) for p in [*procs, *starters]):
            sys.exit("a benchmark process died; see its traceback above")
    pg_cpu = _postgres_cpu() - pg_before
    # The workers keep sealing: how long until every audit row is sealed.
    finished = time.time()
    while unsealed_count() and time.time() - finished < 30:
        time.sleep(0.1)
    drained = time.time() - finished
    stop.set()
    _, seen = out.get(timeout=30)
    used = {"postgres": pg_cpu}
    for _ in [*procs, *starters, *deciders]:
        role, seconds = cpu.get(timeout=30)
        used[role] = used.get(role, 0.0) + seconds
    for proc in [*procs, *starters, *deciders, *monitors]:
        proc.join(timeout=30)
    connections.close_all()
    time.sleep(1.0)  # the backends that ended have handed in their counts
    tables = table_stats()
    with connection.cursor() as cursor:
        cursor.execute(DROP_RT_TRIGGERS)
    rows = list(
        ProcessInstance.objects.filter(definition__key=key).values_list(
            "pk", "created_at", "ended_at"
        )
    )
    first = min(r[1] for r in rows)
    last = max(r[2] for r in rows if r[2])
    latencies = sorted((r[2] - r[1]).total_seconds() * 1000 for r in rows if r[2])
    result = {
        "completed": len(latencies),
        "rate": len(latencies) / (last - first).total_seconds(),
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "rss_mb": peak_rss / 1024,
        "audit_rate": ProcessEvent.objects.filter(instance__isnull=False).count()
        / (last - first).total_seconds(),
        "seal_backlog": backlog,
        "seal_drained_s": drained,
        # CPU milliseconds per completed instance, by role.
        "cpu": {role: 1000 * seconds / len(latencies) for role, seconds in used.items()},
        "tables": {
            table: [value / len(latencies) for value in values]
            for table, values in sorted(tables.items())
            if any(values)
        },
    }
    lateness = sorted(
        float(p["lateness_s"]) * 1000
        for p in ProcessEvent.objects.filter(payload__has_key="lateness_s").values_list(
            "payload", flat=True
        )
    )
    if lateness:
        result["late_p50"] = statistics.median(lateness)
        result["late_p99"] = lateness[int(len(lateness) * 0.99) - 1]
    if approvals:
        trips = sorted(
            (seen[f"c{pk}"] - seen[key]) * 1000
            for key in seen
            if key.startswith("d") and f"c{(pk := key[1:])}" in seen
        )
        result["rt_p50"] = statistics.median(trips)
        result["rt_p99"] = trips[int(len(trips) * 0.99) - 1]
    return result


def idle_round_trip(workers: int, count: int) -> dict[str, float]:
    """Decisions one at a time on an otherwise idle engine: from the decision's
    commit to the commit of the next service step's result, split into the
    wait until a worker claimed the step, the step itself, and the report."""
    import psycopg

    from accounts.models import User
    from orchestration.models import HumanTask, StepRun

    reset()
    with connection.cursor() as cursor:
        cursor.execute(RT_TRIGGERS)
    requester = User.objects.get(username="bench-requester")
    for _ in range(count):
        services.instance_start(key="bench-approval", variables={}, actor=requester)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    stop, cpu = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(stop, cpu)) for _ in range(workers)]
    for proc in procs:
        proc.start()
    deadline = time.time() + 60
    while HumanTask.objects.filter(status="open").count() < count and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(2.0)  # the loops settle: nothing is due but the decisions to come
    approvers = list(User.objects.filter(username__startswith="bench-approver-"))
    trips, parts = [], []
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("LISTEN bench_rt")
        for n, task in enumerate(HumanTask.objects.filter(status="open").order_by("pk")):
            services.task_complete(task_id=task.pk, outcome="approve", data={},
                                   actor=approvers[n % len(approvers)])  # fmt: skip
            seen: dict[str, float] = {}
            for note in conn.notifies(timeout=5.0):
                seen[note.payload[0]] = time.time()
                if "c" in seen:
                    break
            decided = seen["d"]
            trips.append((seen["c"] - decided) * 1000)
            run = StepRun.objects.get(instance_id=task.instance_id, step="after")
            claimed, ran = run.started_at.timestamp(), run.ended_at.timestamp()
            parts.append(((claimed - decided) * 1000, (ran - claimed) * 1000,
                          (seen["c"] - ran) * 1000))  # fmt: skip
            time.sleep(0.1)
    stop.set()
    for proc in procs:
        proc.join(timeout=30)
    with connection.cursor() as cursor:
        cursor.execute(DROP_RT_TRIGGERS)
    trips.sort()

    def p50(values: list[float]) -> float:
        return statistics.median(values)

    return {
        "p50": p50(trips), "p99": trips[int(len(trips) * 0.99) - 1],
        "claim": p50([p[0] for p in parts]), "run": p50([p[1] for p in parts]),
        "report": p50([p[2] for p in parts]),
    }  # fmt: skip


def compare(what: str, rounds: int, instances: int, approvals: int, workers: int) -> None:
    """The same flows with `what` off and on, alternately (off-on, then on-off,
    so that the machine's drift falls on both), and each side's medians."""
    if what == "tracing":
        # Imported here, once: each forked process would otherwise spend some
        # 0.4 s of CPU importing OpenTelemetry, counted against its instances
        # and delaying its start (a tenth of a short run).
        import opentelemetry.instrumentation.django
        import opentelemetry.instrumentation.httpx
        import opentelemetry.instrumentation.psycopg
        import opentelemetry.sdk.trace.export  # noqa: F401
    print(f"{what} off and on, {workers} worker(s), {rounds} rounds\n")
    print(f"{'round':>5} {what:>8}{'floor':>7}{'3 steps/s':>11}{'approval/s':>12}"
          f"{'rt p50':>8}{'rt p99':>8}{'CPU ms 3 steps':>16}{'CPU ms approval':>17}")  # fmt: skip
    seen: dict[bool, list[tuple[float, ...]]] = {False: [], True: []}
    for n in range(rounds):
        for on in (False, True) if n % 2 == 0 else (True, False):
            OBSERVE[what] = on
            base = floor()
            three = run_scenario("bench-three", instances, workers, approvals=False)
            flow = run_scenario("bench-approval", approvals, workers, approvals=True)
            row = (base, three["rate"], flow["rate"], flow["rt_p50"], flow["rt_p99"],
                   three["cpu"]["workers"], flow["cpu"]["workers"])  # fmt: skip
            seen[on].append(row)
            print(f"{n + 1:>5} {'on' if on else 'off':>8}{row[0]:>7.0f}{row[1]:>11.1f}"
                  f"{row[2]:>12.1f}{row[3]:>8.1f}{row[4]:>8.1f}{row[5]:>16.2f}"
                  f"{row[6]:>17.2f}")  # fmt: skip
    print("\nmedians")
    for on in (False, True):
        m = [statistics.median(column) for column in zip(*seen[on], strict=True)]
        print(f"{'':>5} {'on' if on else 'off':>8}{m[0]:>7.0f}{m[1]:>11.1f}{m[2]:>12.1f}"
              f"{m[3]:>8.1f}{m[4]:>8.1f}{m[5]:>16.2f}{m[6]:>17.2f}")  # fmt: skip
    python = sys.version.split()[0]
    print(f"\nPostgreSQL {connection.pg_version}, {os.cpu_count()} cores, Python {python}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=3000)
    parser.add_argument("--approvals", type=int, default=1500)
    parser.add_argument("--timers", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-three", action="store_true")
    parser.add_argument(
        "--events", action="store_true",
        help="also the approval flow with two attached events that never come",
    )  # fmt: skip
    parser.add_argument(
        "--escalations",
        type=int,
        default=1000,
        help="escalations that decide after 2 s, among --pending-timers other timers (0: skip)",
    )
    parser.add_argument("--pending-timers", type=int, default=100_000)
    parser.add_argument(
        "--idle", type=int, default=200, help="decisions one at a time on an idle engine (0: skip)"
    )
    parser.add_argument(
        "--compare", choices=["metrics", "tracing"],
        help="only this: the 3-step and approval flows with it off and on, alternately",
    )  # fmt: skip
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --compare")
    args = parser.parse_args()
    setup(events=args.events)
    if args.compare:
        compare(args.compare, args.rounds, args.instances, args.approvals, args.workers[0])
        return
    base = floor()
    print(f"bare floor (2 processes): {base:,.0f} transactions/s\n")
    print(
        f"{'scenario':<34}{'workers':>8}{'done':>7}{'inst/s':>9}{'vs floor':>9}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'RSS MB':>8}{'rt p50':>8}{'rt p99':>8}"
    )
    cpu_lines: list[str] = []
    seal_lines: list[str] = []
    table_lines: list[str] = []
    for workers in args.workers:
        for label, key, count, approvals in (
            ("3 service steps", "bench-three", args.instances, False),
            ("service, approval, service", "bench-approval", args.approvals, True),
            ("same, with due + 2 escalations", "bench-approval-esc", args.approvals, True),
            *(
                [("same, with 2 attached events", "bench-approval-events", args.approvals, True)]
                if args.events
                else []
            ),
        ):
            if args.skip_three and not approvals:
                continue
            r = run_scenario(key, count, workers, approvals=approvals)
            rt = f"{r['rt_p50']:>8.1f}{r['rt_p99']:>8.1f}" if approvals else f"{'':>8}{'':>8}"
            print(
                f"{label:<34}{workers:>8}{r['completed']:>7}{r['rate']:>9.1f}"
                f"{r['rate'] / base:>9.3f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['rss_mb']:>8.1f}{rt}"
            )
            cpu_lines.append(
                f"{label:<34}{workers:>8}"
                + "".join(f"{r['cpu'].get(role, 0):>10.2f}" for role in ROLES)
            )
            table_lines += [
                f"{label:<34}{workers:>8}  {table:<18}"
                + "".join(f"{value:>9.2f}" for value in values)
                for table, values in r["tables"].items()
            ]
            seal_lines.append(
                f"{label:<34}{workers:>8}{r['audit_rate']:>12.0f}{r['seal_backlog']:>10}"
                f"{r['seal_drained_s']:>12.1f}"
            )
    print(f"\nCPU ms per completed instance\n{'scenario':<34}{'workers':>8}", end="")
    print("".join(f"{role:>10}" for role in ROLES))
    print("\n".join(cpu_lines))
    print(f"\nRows per completed instance, by table (PostgreSQL's counts: the harness"
          f" reads none)\n{'scenario':<34}{'workers':>8}  {'table':<18}"
          + "".join(f"{name:>9}" for name in ("inserted", "updated", "of: HOT", "deleted",
                                               "read", "seq scans")))  # fmt: skip
    print("\n".join(table_lines))
    print(f"\nAudit sealing by the workers\n{'scenario':<34}{'workers':>8}"
          f"{'rows/s':>12}{'max unsealed':>14}{'drained, s':>12}")  # fmt: skip
    print("\n".join(seal_lines))
    if args.idle:
        print(f"\nApproval round trip on an idle engine, {args.idle} decisions one at a time (ms)")
        print(
            f"{'workers':>8}{'p50':>8}{'p99':>8}   p50 of: {'claimed':>8}{'step':>8}{'report':>8}"
        )
        for workers in args.workers:
            r = idle_round_trip(workers, args.idle)
            print(f"{workers:>8}{r['p50']:>8.1f}{r['p99']:>8.1f}   {'':>8}"
                  f"{r['claim']:>8.1f}{r['run']:>8.1f}{r['report']:>8.1f}")  # fmt: skip
    if args.timers:
        r = run_scenario("bench-timer", args.timers, 2, approvals=False)
        print(
            f"\ntimers: {r['completed']} two-second waits with 2 workers fired "
            f"{r['late_p50']:.0f} ms late at p50, {r['late_p99']:.0f} ms at p99"
        )
    if args.escalations:
        r = run_scenario(
            "bench-escalate", args.escalations, 2, approvals=False, pending=args.pending_timers
        )
        print(
            f"escalations: {r['completed']} deciding escalations among {args.pending_timers:,}"
            f" pending timers, 2 workers: fired {r['late_p50']:.0f} ms late at p50,"
            f" {r['late_p99']:.0f} ms at p99"
        )
    python = sys.version.split()[0]
    print(f"\nPostgreSQL {connection.pg_version}, {os.cpu_count()} cores, Python {python}")


if __name__ == "__main__":
    main()
