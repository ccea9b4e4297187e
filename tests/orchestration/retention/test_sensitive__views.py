"""Sensitive values shown: masked in the API, the inbox's pages, the admin,
the audit CSV, mail and logs; open only to people allowed to see them, each
such view in the audit log."""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from api import keys
from api.models import SCOPES
from orchestration import sensitive
from orchestration.models import HumanTask, ProcessEvent
from orchestration.testing import ProcessTest
from tests.conftest import make_user
from tests.orchestration.retention.conftest import places_holding, settle
from tests.orchestration.retention.test_sensitive__engine import ANSWER, IBAN, PAYROLL


@pytest.fixture
def run(roles) -> Iterator[ProcessTest]:
    make_user("mia", "managers", email="mia@example.com")
    clerk = make_user("pia", "managers", "operator", "requester", email="pia@example.com")
    clerk.user_permissions.add(Permission.objects.get(codename="view_sensitive_processinstance"))
    make_user("audrey", "auditor")
    make_user("otto", "operator")
    with ProcessTest() as running:
        running.publish(PAYROLL)
        yield running


_numbers = itertools.count()


def _user(username: str):
    from accounts.models import User

    return User.objects.get(username=username)


def _api(username: str) -> APIClient:
    from accounts.models import User

    user = User.objects.get(username=username)
    _, token = keys.issue(name=f"{username}-{next(_numbers)}", user=user, scopes=list(SCOPES),
                          definitions=[])  # fmt: skip
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _views() -> list[tuple[str, str]]:
    return list(
        ProcessEvent.objects.filter(kind="sensitive.viewed")
        .order_by("pk")
        .values_list("actor__username", "payload__where")
    )


def test_the_api_masks_them_for_a_reader_without_the_permission(run):
    instance = run.start("payroll", {"employee": "Kari", "iban": IBAN, "salary": 123457})
    (task,) = run.open_tasks(instance)

    body = _api("otto").get(f"/api/v1/instances/{instance.pk}").json()
    assert body["variables"]["iban"] == sensitive.MASK
    assert body["variables"]["account"] == sensitive.MASK  # the handler's copy
    assert body["variables"]["employee"] == "Kari"
    shown = _api("mia").get(f"/api/v1/tasks/{task.pk}").json()
    assert IBAN not in json.dumps(shown, ensure_ascii=False)
    assert shown["title"] == f"Account {sensitive.MASK} of Kari ({sensitive.MASK})"
    assert _views() == []  # nothing was shown open: nothing to audit

    opened = _api("pia").get(f"/api/v1/instances/{instance.pk}").json()
    assert opened["variables"]["iban"] == IBAN and opened["variables"]["salary"] == 123457
    assert _views() == [("pia", "api")]
    # The task list shows the title as it was made: masked, for everyone.
    listed = _api("pia").get("/api/v1/tasks").json()["results"]
    assert IBAN not in json.dumps(listed, ensure_ascii=False)


def test_the_pages_mask_them_and_open_them_audited_for_the_permitted(run, client):
    instance = run.start("payroll", {"employee": "Kari", "iban": IBAN, "salary": 123457})
    (task,) = run.open_tasks(instance)

    client.force_login(_user("mia"))
    page = client.get(reverse("tasks_ui:task", args=[task.pk])).content.decode()
    assert IBAN not in page and sensitive.MASK in page
    client.force_login(_user("pia"))
    page = client.get(reverse("tasks_ui:task", args=[task.pk])).content.decode()
    assert IBAN in page
    page = client.get(reverse("tasks_ui:instance", args=[instance.pk])).content.decode()
    assert IBAN in page
    assert _views() == [("pia", "task_page"), ("pia", "instance_page")]

    client.force_login(_user("otto"))  # an operator, not granted: masked, JSON view too
    page = client.get(reverse("tasks_ui:instance", args=[instance.pk])).content.decode()
    assert IBAN not in page and "gAAAA" not in page  # neither the value nor its envelope
    # The admin masks them even for a superuser (who holds every permission).
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    admin = client.get(reverse("admin:orchestration_processinstance_change", args=[instance.pk]))
    assert admin.status_code == 200
    assert IBAN not in admin.content.decode() and "gAAAA" not in admin.content.decode()


def test_the_audit_csv_mail_webhooks_and_logs_never_carry_them(run, client, caplog):
    from orchestration.models import WebhookSubscription

    caplog.set_level(logging.DEBUG)
    from orchestration.models import WEBHOOK_EVENTS, WebhookDelivery

    WebhookSubscription.objects.create(
        url="https://hooks.example.com/x", events=list(WEBHOOK_EVENTS), secret="s" * 32
    )
    instance = run.start("payroll", {"employee": "Kari", "iban": IBAN, "salary": 123457})
    (task,) = run.open_tasks(instance)
    run.decide(task, "approve", as_="pia", data={"callback": ANSWER, "note": "ok"})
    settle(run)
    assert HumanTask.objects.get(pk=task.pk).status == "completed"

    assert mail.outbox, "the assignment and the notify step sent mail"
    for message in mail.outbox:
        text = message.subject + message.body + "".join(
            str(part[0]) for part in getattr(message, "alternatives", []))  # fmt: skip
        assert IBAN not in text and ANSWER not in text
    client.force_login(_user("audrey"))
    response = client.get(reverse("tasks_ui:audit-csv"))
    exported = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(exported)))
    assert len(rows) > 5 and IBAN not in exported and ANSWER not in exported
    bodies = [json.dumps(d.body, ensure_ascii=False) for d in WebhookDelivery.objects.all()]
    assert any(f"Account {sensitive.MASK} of Kari" in b for b in bodies)  # task.created's title
    assert places_holding(IBAN) == [] and places_holding(ANSWER) == []  # webhook bodies too
    assert IBAN not in caplog.text and ANSWER not in caplog.text


def test_views_and_rotations_are_counted_on_metrics(run, client, settings):
    from cryptography.fernet import Fernet
    from django.core.management import call_command

    from tests.scrape import scrape, value

    instance = run.start("payroll", {"employee": "Kari", "iban": IBAN, "salary": 123457})
    _api("pia").get(f"/api/v1/instances/{instance.pk}")
    _api("pia").get(f"/api/v1/instances/{instance.pk}")
    _api("otto").get(f"/api/v1/instances/{instance.pk}")  # masked: not a view of a value
    settings.ORCHESTRATION_ENCRYPTION_KEYS = (
        f"{Fernet.generate_key().decode()},{settings.ORCHESTRATION_ENCRYPTION_KEYS}"
    )
    call_command("rotate_encryption_keys", stdout=io.StringIO())
    settle(run)
    samples = scrape(client, settings)
    assert value(samples, "orchestration_sensitive_views_total", where="api") == 2
    assert value(samples, "orchestration_sensitive_values_rotated_total") == 3  # iban, salary, copy


def test_an_actions_answer_masks_them_it_may_be_kept_for_replays(run):
    clerk = _api("pia")
    started = clerk.post(
        "/api/v1/instances",
        {"definition": "payroll", "variables": {"employee": "Kari", "iban": IBAN, "salary": 7}},
        format="json", headers={"Idempotency-Key": "payroll-kari-1"},
    )  # fmt: skip
    assert started.status_code == 201, started.content
    assert started.json()["variables"]["iban"] == sensitive.MASK
    again = clerk.post(
        "/api/v1/instances",
        {"definition": "payroll", "variables": {"employee": "Kari", "iban": IBAN, "salary": 7}},
        format="json", headers={"Idempotency-Key": "payroll-kari-1"},
    )  # fmt: skip
    assert again.json()["id"] == started.json()["id"]  # the kept answer, replayed
    run.run()
    assert places_holding(IBAN) == []
    assert (
        clerk.get(f"/api/v1/instances/{started.json()['id']}").json()["variables"]["iban"] == IBAN
    )
