"""The audit log's hash chain: sealed after commit, verified row by row; on
PostgreSQL a trigger keeps the table append-only."""

from __future__ import annotations

import threading
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from orchestration.audit import chain as audit_chain
from orchestration.audit.hashchain import ENTRY, entries_of
from orchestration.models import AuditSeal, ProcessEvent

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


def seal(number: int) -> dict:
    return AuditSeal.objects.values("count", "entries", "previous", "link").get(seq=number)


def order(number: int) -> list[int]:
    return [pk for pk, _ in entries_of(bytes(seal(number)["entries"]))]


def set_entries(number: int, entries: list[tuple[int, str]]) -> None:
    packed = b"".join(ENTRY.pack(pk, bytes.fromhex(short)) for pk, short in entries)
    raw("UPDATE orchestration_auditseal SET entries = %s WHERE seq = %s", [packed, number])


def test_rows_are_sealed_in_order_and_the_chain_verifies() -> None:
    rows = write(5)
    assert audit_chain.verify() == audit_chain.Verdict(0, 5, "")
    assert audit_chain.seal_pending(limit=3) == 3
    assert audit_chain.seal_pending() == 2 and audit_chain.seal_pending() == 0
    assert order(1) == [r.pk for r in rows[:3]] and order(2) == [r.pk for r in rows[3:]]
    assert seal(2)["previous"] == seal(1)["link"] and seal(2)["count"] == 2
    assert audit_chain.seals_of(r.pk for r in rows) == {
        r.pk: 1 + (i > 2) for i, r in enumerate(rows)
    }
    assert audit_chain.verify() == audit_chain.Verdict(5, 0, "")


def test_sealing_never_writes_to_an_audit_row() -> None:
    rows = write(3)
    before = list(ProcessEvent.objects.order_by("pk").values())
    with CaptureQueriesContext(connection) as queries:
        audit_chain.seal_pending()
    writes = [
        q["sql"]
        for q in queries
        if q["sql"].lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))
    ]
    assert writes and all("orchestration_auditseal" in sql for sql in writes), writes
    assert list(ProcessEvent.objects.order_by("pk").values()) == before and len(rows) == 3


def test_a_row_committed_late_with_a_lower_id_is_sealed_later_and_breaks_nothing() -> None:
    for pk in (1001, 1002, 1003):
        ProcessEvent.objects.create(pk=pk, kind="test.event")
    audit_chain.seal_pending()
    # A row whose transaction began before the others and committed after the
    # sweep: its id is lower than theirs, its seal comes after theirs.
    ProcessEvent.objects.create(pk=1000, kind="late")
    assert audit_chain.verify().unsealed == 1
    assert audit_chain.seal_pending() == 1
    assert order(2) == [1000] and audit_chain.seals_of([1000, 1003]) == {1000: 2, 1003: 1}
    assert audit_chain.verify() == audit_chain.Verdict(4, 0, "")
    # The chain goes on from the late row's seal, not from the highest id.
    for pk in (1004, 1005):
        ProcessEvent.objects.create(pk=pk, kind="test.event")
    assert audit_chain.seal_pending() == 2
    assert order(3) == [1004, 1005] and seal(3)["previous"] == seal(2)["link"]
    assert audit_chain.verify() == audit_chain.Verdict(6, 0, "")


@pytest.mark.parametrize("tamper", ["change", "delete", "reorder", "reseal", "drop_seal", "relink"])
def test_verify_names_the_first_changed_deleted_or_reordered_row(tamper) -> None:
    rows = write(6)
    audit_chain.seal_pending(limit=3)
    audit_chain.seal_pending()
    fourth, fifth = rows[3], rows[4]
    if tamper == "change":
        raw("UPDATE orchestration_processevent SET reason = %s WHERE id = %s", ["x", fourth.pk])
        expected = f"row {fourth.pk} (seal #2) does not match its seal"
    elif tamper == "delete":
        raw("DELETE FROM orchestration_processevent WHERE id = %s", [fourth.pk])
        expected = f"row {fourth.pk} (seal #2) is missing"
    elif tamper == "reorder":  # two rows trade places in the chain
        entries = entries_of(bytes(seal(2)["entries"]))
        set_entries(2, [entries[1], entries[0], entries[2]])
        expected = f"row {fifth.pk} (seal #2) does not match its seal"
    elif tamper == "reseal":  # a changed row whose own link was recomputed: the next one breaks
        raw("UPDATE orchestration_processevent SET reason = %s WHERE id = %s", ["x", fourth.pk])
        row = ProcessEvent.objects.filter(pk=fourth.pk).values(*audit_chain.CONTENT).get()
        link = audit_chain.chain(seal(1)["link"], audit_chain.digest(row))
        entries = entries_of(bytes(seal(2)["entries"]))
        set_entries(2, [(fourth.pk, link[:16]), *entries[1:]])
        expected = f"row {fifth.pk} (seal #2) does not match its seal"
    elif tamper == "drop_seal":
        raw("DELETE FROM orchestration_auditseal WHERE seq = %s", [1])
        expected = "seal #1 is missing"
    else:  # a seal's last link replaced: the seal itself is named
        raw("UPDATE orchestration_auditseal SET link = %s WHERE seq = %s", ["f" * 64, 1])
        expected = "seal #1 does not match its rows' links"
    verdict = audit_chain.verify()
    assert not verdict.ok and verdict.broken.startswith(expected), verdict.broken
    assert verdict.sealed == {"drop_seal": 0, "reseal": 4}.get(tamper, 3)
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
    good = sealed_before + 2
    number = audit_chain.seals_of([rows[0].pk])[rows[0].pk]
    what = "is missing" if column == "id" else "does not match its seal"
    expected = f"row {third.pk} (seal #{number}) {what}"
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
def test_postgres_refuses_any_update_and_delete_of_audit_rows_and_seals() -> None:
    (row,) = write(1)
    audit_chain.seal_pending()
    for sql in ("UPDATE orchestration_processevent SET kind = 'x' WHERE id = %s",
                "DELETE FROM orchestration_processevent WHERE id = %s",
                "UPDATE orchestration_processevent SET dispatched_at = now() WHERE id = %s",
                "UPDATE orchestration_auditseal SET link = 'f' WHERE seq = %s",
                "DELETE FROM orchestration_auditseal WHERE seq = %s"):  # fmt: skip
        refuses(sql, row.pk if "processevent" in sql else 1)
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
    assert audit_chain.seal_pending() == 0  # its hole stays while its transaction is open
    release.set()
    thread.join(10)
    slow = ProcessEvent.objects.get(kind="slow")
    assert slow.pk < fast.pk and audit_chain.seals_of([slow.pk]) == {}
    assert audit_chain.seal_pending() == 1
    assert audit_chain.seals_of([fast.pk, slow.pk]) == {fast.pk: 1, slow.pk: 2}
    assert audit_chain.verify() == audit_chain.Verdict(2, 0, "")
    later = ProcessEvent.objects.create(kind="later")
    assert audit_chain.seal_pending() == 1
    assert audit_chain.seals_of([later.pk]) == {later.pk: 3}
    assert audit_chain.verify() == audit_chain.Verdict(3, 0, "")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_a_rolled_back_id_is_forgotten_once_no_older_transaction_is_open() -> None:
    with transaction.atomic():
        gone = ProcessEvent.objects.create(kind="rolled back")
        transaction.set_rollback(True)
    kept = ProcessEvent.objects.create(kind="kept")
    assert audit_chain.seal_pending() == 1
    last = AuditSeal.objects.get(seq=1)
    assert any(first <= gone.pk <= last_id for first, last_id, _ in last.holes)
    # Nothing that was open then is open now: the hole cannot fill, it goes.
    assert audit_chain.seal_pending() == 0
    assert AuditSeal.objects.order_by("-seq").first().holes == []
    count = AuditSeal.objects.count()
    assert audit_chain.seal_pending() == 0 and AuditSeal.objects.count() == count  # no empty seals
    assert audit_chain.verify() == audit_chain.Verdict(1, 0, "") and kept.pk > gone.pk
