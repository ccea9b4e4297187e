"""What one approval instance costs the database, per transition kind: the
statements sent, the rows each table gains, changes and loses, and no
sequential scan of the engine's tables (every statement of the hot path,
foreign-key checks included, has an index to use). Numbers at or below these
are the budget; a change that adds work must change this test and say why.

PostgreSQL only: its statistics count the rows (pg_stat_user_tables, flushed
after each phase), and the planner is told to avoid sequential scans so that
one shows only where no index could serve.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from accounts.models import User
from orchestration import services
from orchestration.audit import chain as audit_chain
from orchestration.engine.worker import Worker
from orchestration.handlers import handler
from orchestration.models import HumanTask
from orchestration.side_effects import mail
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

handler("test.budget_noop")(lambda variables, context: {})

APPROVAL = """
key: budget
name: Service, approval, service
start: before
steps:
  before: {type: service, handler: test.budget_noop, next: ask}
  ask:
    type: approval
    assignees: {groups: [g0, g1, g2]}
    outcomes: {approve: after}
  after: {type: service, handler: test.budget_noop, next: done}
  done: {type: end, result: ok}
"""
ENGINE = ("processinstance", "humantask", "steprun", "taskassignee", "taskvote", "timer",
          "processevent", "taskexclusion", "auditseal")  # fmt: skip
Stats = dict[str, tuple[int, int, int, int, int]]  # ins, upd, del, read, seq scans


def table_stats() -> Stats:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    with connection.cursor() as cursor:  # the flush happened when that one ended
        cursor.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del,"
            " coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0), coalesce(seq_scan, 0)"
            " FROM pg_stat_user_tables WHERE relname LIKE 'orchestration_%%'"
        )
        # The audit table's monthly partitions count as the table (migration 0041).
        found: dict[str, list[int]] = {}
        for name, *counts in cursor.fetchall():
            table = re.sub(r"_(y\d{4}m\d{2}|default)$", "", name.removeprefix("orchestration_"))
            found[table] = [a + b for a, b in zip(found.get(table, [0] * 5), counts, strict=True)]
        return {table: tuple(counts) for table, counts in found.items()}  # type: ignore[misc]


@contextmanager
def measured(into: dict[str, Any], phase: str) -> Iterator[None]:
    statements: Counter[str] = Counter()

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        # executemany runs the statement once per row on the server
        statements[sql.split(None, 1)[0].upper()] += len(params) if many else 1
        return execute(sql, params, many, context)

    before = table_stats()
    with connection.execute_wrapper(count):
        yield
    after = table_stats()
    changed = {
        table: tuple(a - b for a, b in zip(after[table], before.get(table, (0,) * 5), strict=True))
        for table in after
    }
    into[phase] = {
        "statements": dict(statements),
        "rows": {t: v[:3] for t, v in changed.items() if any(v[:3])},  # ins, upd, del
        "read": {t: v[3] for t, v in changed.items() if v[3]},
        "seq scans": {t: v[4] for t, v in changed.items() if v[4] and t in ENGINE},
    }


def test_one_approval_instance_stays_within_its_statement_and_row_budget(roles) -> None:
    connection.close()  # a fresh backend: no plan made before the planner was told
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    publish(APPROVAL)
    requester = make_user("rita", "requester")
    deciders = [make_user(f"d{n}", f"g{n}") for n in range(3)]
    worker = Worker("budget")  # the engine's rounds only; side sweeps measured apart
    # One instance first: the version and access caches are warm, as in a
    # running deployment.
    services.instance_start(key="budget", variables={}, actor=User.objects.get(pk=requester.pk))
    while worker.work_once():
        pass
    first = HumanTask.objects.get(status="open")
    services.task_complete(task_id=first.pk, outcome="approve", data={}, actor=deciders[0])
    while worker.work_once():
        pass
    while audit_chain.seal_pending():
        pass
    mail.send_pending()

    got: dict[str, Any] = {}
    with measured(got, "start"):
        instance = services.instance_start(
            key="budget", variables={}, actor=User.objects.get(pk=requester.pk)
        )
    with measured(got, "service step; the task opens"):
        worker.work_once()
    task = HumanTask.objects.get(instance=instance)
    with measured(got, "decision"):
        services.task_complete(
            task_id=task.pk, outcome="approve", data={}, actor=User.objects.get(pk=deciders[1].pk)
        )
    with measured(got, "service step; the instance ends"):
        worker.work_once()
    with measured(got, "sealing"):
        audit_chain.seal_pending()
    with measured(got, "mail"):
        mail.send_pending()
    worker.close()
    assert list(got) == list(BUDGET)
    for phase, budget in BUDGET.items():
        spent = got[phase]
        assert spent["statements"] == budget["statements"], phase
        assert spent["rows"] == budget["rows"], phase
        assert spent["seq scans"] == {}, phase
        over = {t: n for t, n in spent["read"].items() if n > budget["read"].get(t, 0)}
        assert over == {}, f"{phase}: rows read over budget: {over}"


# Measured 2026-12-06 (issue 18). rows: (inserted, updated, deleted) per table.
# The reads of processdefinition and processversion are the foreign-key checks
# of the audit rows; the task is offered to three groups. 2026-12-07: a
# decision reads the decider's groups only (not their permissions: two SELECTs
# fewer). Then the task's candidates moved into its row (migration 0028): no
# assignee rows to insert when it opens (one INSERT fewer, and none of their
# foreign-key checks reading the task), none to read or close when it is
# decided (one SELECT and the WITH ... UPDATE fewer).
BUDGET: dict[str, Any] = {
    "start": {
        "statements": {"SELECT": 2, "INSERT": 3},
        "rows": {"processevent": (1, 0, 0), "processinstance": (1, 0, 0), "steprun": (1, 0, 0)},
        "read": {"processdefinition": 2, "processversion": 2, "processinstance": 2},
    },
    "service step; the task opens": {
        "statements": {"SELECT": 6, "UPDATE": 3, "INSERT": 2},
        "rows": {"processevent": (2, 0, 0), "processinstance": (0, 1, 0), "humantask": (1, 0, 0),
                 "steprun": (0, 2, 0)},
        "read": {"processdefinition": 2, "processversion": 2, "processinstance": 6,
                 "steprun": 4},
    },
    "decision": {
        "statements": {"SELECT": 7, "INSERT": 3, "UPDATE": 3},
        "rows": {"processevent": (1, 0, 0), "processinstance": (0, 1, 0), "humantask": (0, 1, 0),
                 "steprun": (1, 0, 0), "taskvote": (1, 0, 0)},
        "read": {"processdefinition": 1, "processversion": 1, "processinstance": 4,
                 "humantask": 4},
    },
    "service step; the instance ends": {
        "statements": {"SELECT": 5, "UPDATE": 3, "INSERT": 1},
        "rows": {"processevent": (1, 0, 0), "processinstance": (0, 1, 0), "steprun": (0, 2, 0)},
        "read": {"processdefinition": 1, "processversion": 1, "processinstance": 4, "steprun": 4},
    },
    # The audit rows are never updated: a seal is one row beside them.
    "sealing": {
        "statements": {"SELECT": 6, "INSERT": 1},
        "rows": {"auditseal": (1, 0, 0)},
        "read": {"processevent": 5, "auditseal": 1},
    },
    # Sending marks one cursor row, not the rows it sent.
    "mail": {
        "statements": {"SELECT": 10, "SAVEPOINT": 1, "RELEASE": 1, "UPDATE": 1},
        "rows": {"outboxcursor": (0, 1, 0)},
        "read": {"processdefinition": 1, "processevent": 2, "processinstance": 1, "humantask": 1,
                 "outboxcursor": 2, "auditseal": 2},
    },
}  # fmt: skip
