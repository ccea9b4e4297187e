"""The retention purge: an ended instance's personal data goes once its
definition's retention has passed, the chain still verifies and still catches
a changed digest, a hold keeps an instance whole, and one bad instance fails
alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction

from orchestration.audit import chain
from orchestration.audit.hashchain import REMOVED
from orchestration.audit.removal import _write
from orchestration.models import (
    EdgeDay,
    HumanTask,
    LegalHold,
    ProcessEvent,
    ProcessInstance,
    StepDay,
    SweepFailure,
    TaskComment,
)
from orchestration.retention import holds, purge, removal
from tests.conftest import make_user
from tests.orchestration.retention.conftest import NAME, TRIP, ended, places_holding, settle

pytestmark = pytest.mark.django_db


def test_nothing_goes_before_the_retention_and_everything_personal_after(run) -> None:
    instance = ended(run)
    settle(run)
    figures = (list(StepDay.objects.values()), list(EdgeDay.objects.values()))
    assert places_holding(NAME) and places_holding(TRIP)

    run.now = instance.ended_at + timedelta(days=30) - timedelta(seconds=1)
    assert purge.purge_due().removed.instances == 0
    run.now += timedelta(seconds=1)  # exactly the retention: due
    report = purge.purge_due()
    assert report.removed.counts() | {"audit_rows": 0} == {
        "instances": 1, "tasks": 1, "comments": 1, "votes": 1, "attachments": 0,
        "audit_rows": 0, "deliveries": 0,
    }  # fmt: skip
    assert report.removed.audit_rows >= 3  # started, the notification, the decision

    assert places_holding(NAME) == [] and places_holding(TRIP) == []
    instance.refresh_from_db()
    assert instance.purged_at == run.now and instance.status == "completed"
    assert {"amount", "employee"} <= set(instance.variables[REMOVED]["names"])
    assert set(instance.variables) == {REMOVED}
    assert instance.variables[REMOVED]["rule"] == "retention 30d (definition)"
    task = HumanTask.objects.get(instance=instance)
    assert (task.title, task.outcome, task.decided_by.username) == ("approve", "approve", "mia")
    assert removal.is_removed(task.data)
    assert TaskComment.objects.get(task=task).text == ""
    # The history still reads, and the dashboard's figures did not change.
    kinds = list(ProcessEvent.objects.filter(instance=instance).values_list("kind", flat=True))
    assert "task.completed" in kinds and kinds[-1] == "data.removed"
    done = ProcessEvent.objects.get(instance=instance, kind="task.completed")
    assert done.payload["outcome"] == "approve" and REMOVED in done.payload
    assert (list(StepDay.objects.values()), list(EdgeDay.objects.values())) == figures

    chain.seal_pending()
    assert chain.verify().ok and chain.verify().unsealed == 0
    assert purge.purge_due().removed.instances == 0  # once


def _tamper(row: ProcessEvent, payload: dict) -> None:
    with transaction.atomic():
        _write([(__import__("json").dumps(payload), row.reason, row.ip, row.pk, row.created_at)])


def test_a_changed_or_dropped_digest_after_a_purge_still_fails_verify(run) -> None:
    instance = ended(run)
    settle(run)
    run.now = instance.ended_at + timedelta(days=31)
    purge.purge_due()
    chain.seal_pending()
    row = ProcessEvent.objects.get(instance=instance, kind="task.completed")
    original = row.payload
    key = next(iter(original[REMOVED]["keys"]))

    changed = {
        **original,
        REMOVED: {**original[REMOVED], "keys": {**original[REMOVED]["keys"], key: "0" * 64}},
    }
    _tamper(row, changed)
    verdict = chain.verify()
    assert verdict.broken.startswith(f"row {row.pk} (seal #")
    assert "does not match its seal" in verdict.broken

    dropped = {**original, REMOVED: {**original[REMOVED], "keys": {}}}
    _tamper(row, dropped)
    assert chain.verify().broken.startswith(f"row {row.pk} (seal #")

    _tamper(row, original)
    assert chain.verify().ok
    # A marker that no removal row names: someone emptied a row by hand.
    other = ProcessEvent.objects.filter(instance=instance, kind="instance.completed").first() or (
        ProcessEvent.objects.filter(instance=instance).exclude(pk=row.pk).first()
    )
    forged = {**other.payload, REMOVED: {**original[REMOVED]}}
    forged[REMOVED]["by"] = row.pk  # a row, but not a removal
    _tamper(other, forged)
    assert chain.verify().broken == (
        f"row {other.pk} has values removed, but row {row.pk} records no removal"
    )


def test_on_postgresql_the_audit_table_refuses_a_plain_update(run, on_postgres) -> None:
    if not on_postgres:
        pytest.skip("the trigger is PostgreSQL's")
    instance = ended(run)
    row = ProcessEvent.objects.filter(instance=instance).first()
    from django.db.utils import DatabaseError

    def update(*statements: str) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql, [row.pk] if "%s" in sql else [])

    plain = "UPDATE orchestration_processevent SET reason = 'x' WHERE id = %s"
    marker = "UPDATE orchestration_processevent SET payload = '{\"_removed\": {}}' WHERE id = %s"
    other_column = (
        "UPDATE orchestration_processevent SET kind = 'x', payload = '{\"_removed\": {}}' "
        "WHERE id = %s"
    )
    with pytest.raises(DatabaseError, match="append-only"):
        update(plain)
    with pytest.raises(DatabaseError, match="append-only"):  # outside a removal's transaction
        update(marker)
    with pytest.raises(DatabaseError, match="append-only"):  # a removal touches nothing else
        update("SET LOCAL orchestration.removing = 'on'", other_column)
    update("SET LOCAL orchestration.removing = 'on'", marker)  # what a removal does


def test_a_held_instance_survives_until_the_hold_is_lifted(run) -> None:
    auditor = make_user("aud", "auditor")
    requester = make_user("rita", "requester")
    kept, other = ended(run), ended(run, employee="Noé Kowalski")
    settle(run)
    with pytest.raises(Exception, match="lacks the operator or auditor role"):
        holds.place(actor=requester, reason="litigation", instance=kept)
    with pytest.raises(Exception, match="reason"):
        holds.place(actor=auditor, reason="  ", instance=kept)
    hold = holds.place(actor=auditor, reason="Litigation 2031-17", instance=kept)

    run.now = kept.ended_at + timedelta(days=40)
    assert purge.purge_due().removed.instances == 1
    kept.refresh_from_db()
    other.refresh_from_db()
    assert kept.purged_at is None and kept.variables["employee"] == NAME
    assert other.purged_at is not None

    holds.lift(actor=auditor, hold=hold, reason="case closed")
    waits = purge.purge_due()  # the lifting's own audit row is not sealed yet
    assert (waits.removed.instances, waits.waiting) == (0, 1)
    settle(run)
    assert purge.purge_due().removed.instances == 1
    kept.refresh_from_db()
    assert kept.purged_at is not None
    placed, lifted = ProcessEvent.objects.filter(kind__in=["hold.placed", "hold.lifted"]).order_by(
        "pk"
    )
    # Audited on the instance (whose reasons the purge then removed, as every
    # reason of its rows); the hold itself keeps them as the record.
    assert (placed.kind, placed.actor, placed.instance_id) == ("hold.placed", auditor, kept.pk)
    assert (lifted.kind, lifted.actor) == ("hold.lifted", auditor)
    record = LegalHold.objects.get()
    assert (record.reason, record.lift_reason, record.lifted_by) == (
        "Litigation 2031-17", "case closed", auditor)  # fmt: skip


def test_a_hold_on_the_definition_or_the_subject_keeps_its_instances(run) -> None:
    auditor = make_user("aud", "auditor")
    first, second = ended(run), ended(run, employee=" zoë ångström-łukasz ")  # the same person
    third = ended(run, employee="Noé Kowalski")
    settle(run)
    by_subject = holds.place(actor=auditor, reason="DSAR pending", subject=NAME)
    run.now = first.ended_at + timedelta(days=40)
    purge.purge_due()
    purged = set(
        ProcessInstance.objects.filter(purged_at__isnull=False).values_list("pk", flat=True)
    )
    assert purged == {third.pk}
    holds.lift(actor=auditor, hold=by_subject, reason="answered")
    holds.place(actor=auditor, reason="audit of 2031", definition=first.definition)
    settle(run)
    purge.purge_due()
    assert ProcessInstance.objects.filter(purged_at__isnull=True).count() == 2
    assert {first.pk, second.pk} == set(
        ProcessInstance.objects.filter(purged_at__isnull=True).values_list("pk", flat=True)
    )


def test_one_instance_that_fails_is_rolled_back_alone_and_retried(run, monkeypatch) -> None:
    bad, _ = ended(run), ended(run, employee="Noé Kowalski")
    settle(run)
    real = purge.remove_instances

    def failing(instances, **kwargs):
        if any(instance.pk == bad.pk for instance in instances):
            raise RuntimeError("storage said no")
        return real(instances, **kwargs)

    monkeypatch.setattr(purge, "remove_instances", failing)
    run.now = bad.ended_at + timedelta(days=31)
    report = purge.purge_due()
    assert (report.removed.instances, report.failed) == (1, 1)
    bad.refresh_from_db()
    assert bad.purged_at is None and bad.variables["employee"] == NAME
    failure = SweepFailure.objects.get(sweep="retention purge")
    assert failure.row_id == bad.pk and "storage said no" in failure.error
    monkeypatch.setattr(purge, "remove_instances", real)
    run.now += timedelta(hours=1)  # past its backoff
    assert purge.purge_due().removed.instances == 1
    assert not SweepFailure.objects.exists()


def test_forever_and_the_site_default(run, settings) -> None:
    run.publish(__import__("tests.orchestration.retention.conftest", fromlist=["EXPENSE"])
                .EXPENSE.replace("retention: 30d", "retention: forever"))  # fmt: skip
    forever = ended(run)
    settle(run)
    run.now = forever.ended_at + timedelta(days=3000)
    assert purge.purge_due().removed.instances == 0
    run.publish(__import__("tests.orchestration.retention.conftest", fromlist=["EXPENSE"])
                .EXPENSE.replace("retention: 30d\n", ""))  # fmt: skip
    settings.ORCHESTRATION_RETENTION = "10d"
    site = ended(run)
    settle(run)
    run.now = site.ended_at + timedelta(days=9)
    assert purge.purge_due().removed.instances == 0
    run.now = site.ended_at + timedelta(days=10)
    assert purge.purge_due().removed.instances == 1
    site.refresh_from_db()
    assert site.variables[REMOVED]["rule"] == "retention 10d (ORCHESTRATION_RETENTION)"


def test_a_backlog_is_purged_at_the_duty_it_is_given(run, monkeypatch) -> None:
    first, *_ = [ended(run, employee=f"Person {n}") for n in range(3)]
    settle(run)
    rests: list[float] = []
    monkeypatch.setattr(purge.time, "sleep", rests.append)
    run.now = first.ended_at + timedelta(days=31)
    full = purge.purge_due(batch=1, duty=1.0)
    assert (full.rounds, full.removed.instances, rests) == (3, 3, [])  # full duty: no rest
    ProcessInstance.objects.update(purged_at=None)  # due again (their removal rows settled)
    settle(run)
    half = purge.purge_due(batch=1, duty=0.5)
    # Three rounds of one, a rest after each full round (a fourth finds none due).
    assert (half.rounds, half.removed.instances, len(rests)) == (3, 3, 3)
    assert all(rest > 0 for rest in rests)
