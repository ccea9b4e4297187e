"""The audit log's hash chain: sealed after commit, verified row by row; on
PostgreSQL a trigger keeps the table append-only."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction

from orchestration.audit import chain as audit_chain
from orchestration.models import ProcessEvent

pytestmark = pytest.mark.django_db


def write(n: int, kind: str = "test.event") -> list[ProcessEvent]:
    return [ProcessEvent.objects.create(kind=kind, payload={"n": i, "text": "é"})
            for i in range(n)]  # fmt: skip


def raw(sql: str, params: list) -> None:
    """Tamper as someone with database access would (around the model's guards;
    on PostgreSQL with the trigger switched off, as only a superuser can)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def test_rows_are_sealed_in_order_and_the_chain_verifies() -> None:
    rows = write(5)
    assert audit_chain.verify() == audit_chain.Verdict(0, 5, "")
    assert audit_chain.seal_pending(limit=3) == 3
    assert audit_chain.seal_pending() == 2 and audit_chain.seal_pending() == 0
    seqs = list(ProcessEvent.objects.order_by("pk").values_list("seal_seq", flat=True))
    assert seqs == [1, 2, 3, 4, 5] and [r.pk for r in rows] == sorted(r.pk for r in rows)
    assert audit_chain.verify() == audit_chain.Verdict(5, 0, "")


def test_a_row_committed_late_with_a_lower_id_is_sealed_later_and_breaks_nothing() -> None:
    for pk in (1001, 1002, 1003):
        ProcessEvent.objects.create(pk=pk, kind="test.event")
    audit_chain.seal_pending()
    # A row whose transaction began before the others and committed after the
    # sweep: its id is lower than theirs, its seal comes after theirs.
    late = ProcessEvent.objects.create(pk=1000, kind="late")
    assert audit_chain.verify().unsealed == 1
    audit_chain.seal_pending()
    late.refresh_from_db()
    assert late.seal_seq == 4
    assert audit_chain.verify() == audit_chain.Verdict(4, 0, "")
    # The chain goes on from the late row (the highest seal), not the highest id.
    after = [ProcessEvent.objects.create(pk=pk, kind="test.event") for pk in (1004, 1005)]
    assert audit_chain.seal_pending() == 2
    assert [r.seal_seq for r in ProcessEvent.objects.filter(pk__in=[r.pk for r in after])] == [
        5, 6,
    ]  # fmt: skip
    assert audit_chain.verify() == audit_chain.Verdict(6, 0, "")


@pytest.mark.parametrize("tamper", ["change", "delete", "reorder", "reseal"])
def test_verify_names_the_first_changed_deleted_or_reordered_row(tamper) -> None:
    rows = write(6)
    audit_chain.seal_pending()
    third, fourth = rows[2], rows[3]
    if tamper == "change":
        raw("UPDATE orchestration_processevent SET reason = %s WHERE id = %s", ["x", third.pk])
        expected = f"row {third.pk} (seal #3) does not match its seal"
    elif tamper == "delete":
        raw("DELETE FROM orchestration_processevent WHERE id = %s", [third.pk])
        expected = "seal #3 is missing"
    elif tamper == "reorder":
        raw("UPDATE orchestration_processevent SET seal_seq = -seal_seq WHERE id IN (%s, %s)",
            [third.pk, fourth.pk])  # fmt: skip
        raw("UPDATE orchestration_processevent SET seal_seq = CASE WHEN id = %s THEN 4 ELSE 3 END "
            "WHERE id IN (%s, %s)", [third.pk, third.pk, fourth.pk])  # fmt: skip
        expected = f"row {fourth.pk} (seal #3) does not match its seal"
    else:  # a changed row whose own seal was recomputed: the next one breaks
        raw("UPDATE orchestration_processevent SET reason = %s WHERE id = %s", ["x", third.pk])
        third.refresh_from_db()
        row = ProcessEvent.objects.filter(pk=third.pk).values(*audit_chain.CONTENT).get()
        previous = ProcessEvent.objects.get(seal_seq=2).seal
        raw("UPDATE orchestration_processevent SET seal = %s WHERE id = %s",
            [audit_chain.chain(previous, audit_chain.digest(row)), third.pk])  # fmt: skip
        expected = f"row {fourth.pk} (seal #4) does not match its seal"
    verdict = audit_chain.verify()
    assert not verdict.ok and verdict.broken.startswith(expected), verdict.broken
    with pytest.raises(CommandError, match="audit chain broken"):
        call_command("verify_audit", stdout=StringIO())


# One change per sealed column, each to a value of the column's own type.
TAMPER = {
    "id": "id = id + 100000",
    "created_at": "created_at = %s",
    "kind": "kind = 'test.other'",
    "actor_id": "actor_id = %s",
    "client": "client = 'api:stolen'",
    "definition_id": "definition_id = %s",
    "version_id": "version_id = %s",
    "instance_id": "instance_id = %s",
    "step": "step = 'other'",
    "from_status": "from_status = 'running'",
    "to_status": "to_status = 'completed'",
    "reason": "reason = 'x'",
    "payload": "payload = %s",
    "request_id": "request_id = 'r-2'",
    "ip": "ip = '10.0.0.9'",
}


def test_every_sealed_column_is_tamper_tested() -> None:
    assert set(TAMPER) == set(audit_chain.CONTENT)


@pytest.mark.parametrize("column", sorted(TAMPER))
def test_a_change_to_any_sealed_column_is_named_by_verify_audit(column) -> None:
    from datetime import timedelta

    from accounts.models import User
    from orchestration import services
    from tests.orchestration.factories import PURCHASE_SOURCE

    # Real rows to point the foreign keys at (the database checks them).
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    version = services.version_publish(version=draft, actor=None)
    instance = services.instance_start(
        key=version.definition.key, variables={"item": "desk", "amount": 10}, actor=None
    )
    audit_chain.seal_pending()
    rows = write(5)
    audit_chain.seal_pending()
    sealed_before = ProcessEvent.objects.filter(pk__lt=rows[0].pk).count()
    third = rows[2]
    params = {
        "created_at": [third.created_at + timedelta(microseconds=1)],
        "actor_id": [User.objects.create(username="someone").pk],
        "definition_id": [version.definition_id],
        "version_id": [version.pk],
        "instance_id": [instance.pk],
        "payload": ['{"n": 2, "text": "e"}'],  # was {"n": 2, "text": "é"}
    }.get(column, [])
    raw(f"UPDATE orchestration_processevent SET {TAMPER[column]} WHERE id = %s",
        [*params, third.pk])  # fmt: skip
    pk = third.pk + 100000 if column == "id" else third.pk
    good = sealed_before + 2
    expected = f"row {pk} (seal #{good + 1}) does not match its seal"
    assert audit_chain.verify().broken.startswith(expected)
    with pytest.raises(CommandError) as broken:
        call_command("verify_audit", stdout=StringIO())
    assert f"audit chain broken after {good} good row(s): {expected}" in str(broken.value)


def test_verify_audit_reports_the_backlog_and_can_seal_it() -> None:
    write(3)
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip() == "audit chain intact: 0 sealed row(s); 3 row(s) not sealed yet"
    out = StringIO()
    call_command("verify_audit", seal=True, stdout=out)
    assert out.getvalue().strip() == "audit chain intact: 3 sealed row(s); 0 row(s) not sealed yet"


def refuses(sql: str, pk: int) -> None:
    with (
        pytest.raises(DatabaseError, match="the audit log is append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [pk])


@pytest.mark.postgres
def test_postgres_refuses_update_and_delete_except_the_seal_and_the_outbox_stamp() -> None:
    (row,) = write(1)
    for sql in ("UPDATE orchestration_processevent SET kind = 'x' WHERE id = %s",
                "DELETE FROM orchestration_processevent WHERE id = %s",
                "UPDATE orchestration_processevent SET payload = '{}' WHERE id = %s"):  # fmt: skip
        refuses(sql, row.pk)
    audit_chain.seal_pending()  # the seal may be set once, and never again:
    refuses("UPDATE orchestration_processevent SET seal = 'f' WHERE id = %s", row.pk)
    # a stamped outbox row stays stamped
    refuses("UPDATE orchestration_processevent SET dispatched_at = now() WHERE id = %s", row.pk)
    assert audit_chain.verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_a_transaction_that_commits_after_a_sweep_is_sealed_by_the_next() -> None:
    inserted, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                ProcessEvent.objects.create(kind="slow")  # takes the lower id
                inserted.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inserted.wait(10)
    fast = ProcessEvent.objects.create(kind="fast")  # a higher id, committed first
    assert audit_chain.seal_pending() == 1  # the slow row is not visible yet
    release.set()
    thread.join(10)
    slow = ProcessEvent.objects.get(kind="slow")
    assert slow.pk < fast.pk and slow.seal_seq is None
    assert audit_chain.seal_pending() == 1
    slow.refresh_from_db()
    fast.refresh_from_db()
    assert (fast.seal_seq, slow.seal_seq) == (1, 2)
    assert audit_chain.verify() == audit_chain.Verdict(2, 0, "")
    later = ProcessEvent.objects.create(kind="later")
    assert audit_chain.seal_pending() == 1
    later.refresh_from_db()
    assert later.seal_seq == 3
    assert audit_chain.verify() == audit_chain.Verdict(3, 0, "")
