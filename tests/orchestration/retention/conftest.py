"""Shared by the retention tests: a process that gathers personal data in
every place the engine keeps it, and a search of the whole database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from orchestration.testing import ProcessTest
from tests.conftest import make_user

# Personal data as people write it: accents and a non-Latin script, so that an
# escaped or re-encoded copy (JSON's \u00e9, say) is searched for too.
NAME = "Zoë Ångström-Łukasz"
TRIP = "Reise nach Kraków für Zoë"

EXPENSE = """
key: expense
name: Expense
retention: 30d
subject: variables.employee
variables:
  employee: {type: string}
  amount: {type: number}
start: check
steps:
  check:
    type: service
    handler: demo.check_budget
    next: approve
  approve:
    type: approval
    title: "Expense of {{ employee }}"
    assignees: {groups: [managers]}
    form:
      - {name: note, type: text}
    outcomes: {approve: done, reject: done}
  done: {type: end}
"""


@pytest.fixture
def run(roles) -> Iterator[ProcessTest]:
    make_user("mia", "managers")
    with ProcessTest() as running:
        running.publish(EXPENSE)
        yield running


def ended(run: ProcessTest, employee: str = NAME, business_key: str = "") -> object:
    """An expense of `employee`, decided with a note and a comment, ended."""
    instance = run.start("expense", {"employee": employee, "amount": 1200},
                         business_key=business_key)  # fmt: skip
    (task,) = run.open_tasks(instance)
    run.decide(task, "approve", as_="mia", data={"note": TRIP}, comment=f"ok for {employee}")
    instance.refresh_from_db()
    assert instance.status == "completed"
    return instance


def places_holding(value: str) -> list[str]:
    """Every table and column of the database whose text holds `value`, as it
    is or as JSON escapes it."""
    import json

    wanted = {value, json.dumps(value)[1:-1]}
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for column, cell in zip(columns, row, strict=True):
                    text = bytes(cell).decode("utf-8", "replace") if isinstance(
                        cell, bytes | memoryview) else str(cell)  # fmt: skip
                    if any(w in text for w in wanted):
                        found.append(f"{table}.{column}")
    return sorted(set(found))


def settle(run: ProcessTest) -> None:
    """Run the engine, seal, and let every reader of the log (mail, webhooks,
    the metrics fold) pass what was sealed: the rows are settled."""
    from orchestration import jobs
    from orchestration.audit import chain

    run.run()
    while chain.seal_pending():
        pass
    for sweep in (jobs.fold_metrics, jobs.send_mail, jobs.fan_out_webhooks):
        sweep()
