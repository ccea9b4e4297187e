"""The audit log as auditors read it, and what every row records."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from orchestration import services
from orchestration.audit import chain as audit_chain
from orchestration.models import ProcessEvent
from tests.tasks_ui.conftest import login, purchase

pytestmark = pytest.mark.django_db


def test_a_request_leaves_its_id_address_actor_and_acting_for_in_the_log(client, run) -> None:
    desk = purchase(run, "desk")
    bob = login(client, "bob")
    client.post(reverse("tasks_ui:delegate", args=[desk.pk]), {"to": "carol"})
    answer = client.post(reverse("tasks_ui:decide", args=[desk.pk]), {"outcome": "approve"},
                         HTTP_X_REQUEST_ID="order-sync-42")  # fmt: skip
    assert answer["X-Request-ID"] == "order-sync-42"
    # Carol is the delegate, bob the owner: bob's own decision is by bob.
    row = ProcessEvent.objects.get(kind="task.completed")
    assert (row.actor, row.request_id, row.ip) == (bob, "order-sync-42", "127.0.0.1")
    delegated = ProcessEvent.objects.get(kind="task.delegated")
    assert len(delegated.request_id) == 32 and delegated.payload["acting_for"] == "bob"
    # Rows written outside a request (the start here, the worker's) carry none.
    started = ProcessEvent.objects.get(kind="instance.started")
    assert (started.request_id, started.ip, started.client) == ("", None, "")


def test_only_auditors_read_the_log(client, run) -> None:
    purchase(run, "desk")
    for name in ("bob", "otto", "alice"):
        login(client, name)
        assert client.get(reverse("tasks_ui:audit")).status_code == 404
        assert client.get(reverse("tasks_ui:audit-csv")).status_code == 404
    login(client, "audrey")
    page = client.get(reverse("tasks_ui:audit"), {"verb": "instance."})
    assert page.status_code == 200
    assert {e.kind for e in page.context["events"]} == {"instance.started"}
    assert ">Audit log</a>" in page.content.decode()
    mine = client.get(reverse("tasks_ui:audit"), {"actor": "alice"}).context["events"]
    assert mine and all(e.actor.username == "alice" for e in mine)
    bad = client.get(reverse("tasks_ui:audit"), {"instance": "abc"})
    assert bad.status_code == 400 and "Enter a whole number." in bad.content.decode()


def test_the_csv_export_streams_every_matching_row_without_formulas(client, run) -> None:
    purchase(run, "=HYPERLINK(1)")
    audit_chain.seal_pending()
    login(client, "audrey")
    response = client.get(reverse("tasks_ui:audit-csv"))
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:6] == ["id", "time", "actor", "client", "acting_for", "verb"]
    assert len(rows) - 1 == ProcessEvent.objects.count()
    assert all(row[14] for row in rows[1:])  # all sealed
    started = next(row for row in rows if row[5] == "instance.started")
    assert started[2] == "alice"
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_every_csv_cell_is_neutralised_whoever_chose_it(client, run) -> None:
    # Found: a user named "-2+3" reached the actor and acting_for cells as a formula.
    from accounts.models import User

    bob = User.objects.get(username="bob")
    bob.username = "-2+3"
    bob.save()
    task = purchase(run, "desk")
    uma = User.objects.get(username="uma")
    services.task_delegate(task_id=task.pk, actor=bob, to=uma, note="@SUM(A1)")
    audit_chain.seal_pending()
    login(client, "audrey")
    response = client.get(reverse("tasks_ui:audit-csv"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    delegated = next(row for row in rows if row[5] == "task.delegated")
    assert (delegated[2], delegated[4]) == ("'-2+3", "'-2+3")
    formula = {"=", "+", "-", "@", "\t", "\r"}
    assert not any(cell[:1] in formula for row in rows[1:] for cell in row)
