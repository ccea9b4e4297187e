"""Erasure by data subject: after it, the subject's value is nowhere in the
database (searched table by table), a held or running instance keeps its
data and the report says why, webhooks and mail sent after it do not carry
the value, and the account of an erased user no longer names the person."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command

from orchestration.audit import chain
from orchestration.exceptions import InvalidInput
from orchestration.models import HumanTask, ProcessEvent, WebhookDelivery, WebhookSubscription
from orchestration.retention import erasure, holds
from tests.conftest import make_user
from tests.orchestration.retention.conftest import NAME, TRIP, ended, places_holding, settle

pytestmark = pytest.mark.django_db


def test_erasing_a_value_leaves_it_in_no_table_and_keeps_what_it_must(run, caplog) -> None:
    operator = make_user("otto", "operator")
    auditor = make_user("aud", "auditor")
    erased, held = ended(run), ended(run, employee=NAME.upper())
    other = ended(run, employee="Noé Kowalski")
    running = run.start("expense", {"employee": NAME, "amount": 5})
    settle(run)
    holds.place(actor=auditor, reason="Litigation 2031-17", instance=held)
    assert places_holding(NAME)

    with pytest.raises(InvalidInput) as refused:
        erasure.erase(actor=operator, reason="", value=NAME)
    assert set(refused.value.errors) == {"reason"}
    with pytest.raises(Exception, match="lacks the operator role"):
        erasure.erase(actor=auditor, reason="DSAR 17", value=NAME)
    dry = erasure.erase(actor=operator, reason="DSAR 17", value=NAME, dry_run=True)
    assert dry.erased["instances"] == 1 and places_holding(NAME)  # nothing changed

    caplog.set_level(logging.DEBUG)
    report = erasure.erase(actor=operator, reason="DSAR 17", value=NAME)
    assert report.erased["instances"] == 1, report.kept
    kept = {k["what"]: k["why"] for k in report.kept}
    assert kept[f"instance #{held.pk}"] == f"legal hold #{held.holds.get().pk}: Litigation 2031-17"
    assert kept[f"instance #{running.pk}"].startswith("running:")
    assert not report.complete  # the running one can be erased once it ends

    # Only the held and the running instance still hold the value.
    where = places_holding(NAME) + places_holding(NAME.upper())
    assert where, "the held instance keeps its data"
    held_rows = {f"instance #{held.pk}", f"instance #{running.pk}"}
    for table in ("accounts_user", "orchestration_webhookdelivery", "api_apicall"):
        assert not any(w.startswith(table + ".") for w in where)
    erased.refresh_from_db()
    assert "employee" not in erased.variables and erased.purged_at is not None
    rows = list(ProcessEvent.objects.filter(instance=erased).values())
    assert NAME not in json.dumps(rows, default=str, ensure_ascii=False)
    other.refresh_from_db()
    assert other.variables["employee"] == "Noé Kowalski"  # someone else: untouched
    assert held_rows == set(kept) - {"the decisions (outcome, step, time, the account)"}
    record = ProcessEvent.objects.get(kind="subject.erased")
    assert (record.actor, record.reason) == (operator, "DSAR 17")
    assert NAME not in json.dumps(record.payload, ensure_ascii=False)
    assert NAME not in caplog.text  # nothing the app logged names the person
    chain.seal_pending()
    assert chain.verify().ok


def test_after_the_running_instance_ends_a_second_erasure_completes(run) -> None:
    operator = make_user("otto", "operator")
    instance = run.start("expense", {"employee": NAME, "amount": 5})
    first = erasure.erase(actor=operator, reason="DSAR 18", value=NAME)
    assert not first.complete
    (task,) = run.open_tasks(instance)
    run.decide(task, "reject", as_="mia", data={"note": TRIP})
    settle(run)
    second = erasure.erase(actor=operator, reason="DSAR 18", value=NAME)
    assert second.complete and second.erased["instances"] == 1
    assert places_holding(NAME) == [] and places_holding(TRIP) == []


def test_no_webhook_or_mail_sent_after_the_erasure_carries_the_value(run, settings) -> None:
    operator = make_user("otto", "operator")
    WebhookSubscription.objects.create(
        url="https://hooks.example.com/x", events=["instance.completed"], secret="s" * 32
    )
    instance = ended(run, business_key=f"EXP {NAME}")  # the webhooks send the business key
    settle(run)
    waiting = list(WebhookDelivery.objects.filter(status="pending"))
    assert waiting and any(NAME in json.dumps(d.body, ensure_ascii=False) for d in waiting)
    outbox = len(mail.outbox)
    report = erasure.erase(actor=operator, reason="DSAR 19", value=NAME)
    assert report.complete and report.erased["instances"] == 1, report.kept
    for delivery in WebhookDelivery.objects.all():
        assert NAME not in json.dumps(delivery.body, ensure_ascii=False)
        assert delivery.status != "pending"
    run.now += timedelta(minutes=5)
    settle(run)
    assert all(NAME not in m.body and NAME not in m.subject for m in mail.outbox[outbox:])
    assert HumanTask.objects.get(instance=instance).title == "approve"


def test_erasing_a_user_pseudonymises_the_account_and_keeps_its_decisions(run) -> None:
    mia = HumanTask.objects.none().model._meta.apps.get_model("accounts", "User").objects.get(
        username="mia")  # fmt: skip
    mia.first_name, mia.last_name, mia.email = "Mia", "Wójcik-Ørsted", "mia.wojcik@example.com"
    mia.save()
    instance = ended(run)
    settle(run)
    assert places_holding("Wójcik-Ørsted") and places_holding("mia.wojcik@example.com")
    call_command("erase_subject", "--user", "mia", "--reason", "left the company, asked")
    mia.refresh_from_db()
    assert (mia.username, mia.email, mia.first_name, mia.is_active) == (
        f"erased-{mia.pk}", "", "", False)  # fmt: skip
    assert not mia.has_usable_password()
    task = HumanTask.objects.get(instance=instance)
    assert (task.outcome, task.decided_by_id) == ("approve", mia.pk)  # the decision stays
    assert places_holding("Wójcik-Ørsted") == []
    assert places_holding("mia.wojcik@example.com") == []
    chain.seal_pending()
    assert chain.verify().ok


def test_the_command_refuses_bad_input_by_name(run) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--user: no user 'nobody'"):
        call_command("erase_subject", "--user", "nobody", "--reason", "x")
    with pytest.raises(CommandError, match="--reason"):
        call_command("erase_subject", "--value", NAME, "--reason", " ")
