"""The Reports page: throughput, durations and the heatmap of where purchase
approvals wait, for operators, process admins and auditors; CSV and the API
give the same numbers."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from orchestration import jobs
from orchestration.metrics import fold
from tests.tasks_ui.conftest import login, purchase

pytestmark = pytest.mark.django_db
URL = reverse("tasks_ui:report", args=["purchase-approval"])


def a_day_of_purchases(run) -> None:
    """Four purchases: two approved after 3 h and 5 h, one rejected, one waiting."""
    first, second, third, waiting = (
        purchase(run, item) for item in ("desk", "lamp", "sofa", "pen")
    )
    run.advance(hours=3)
    run.decide(first, "approve", as_="bob")
    run.advance(hours=2)
    run.decide(second, "approve", as_="bob")
    run.decide(third, "reject", as_="bob", comment="too dear")
    jobs.seal_audit()
    fold.fold_pending()
    assert waiting.pk


def test_operators_see_where_approvals_wait(client, run) -> None:
    a_day_of_purchases(run)
    login(client, "otto")
    page = client.get(URL).content.decode()
    assert re.search(r'<dd class="started">4</dd>', page)
    assert re.search(r'<dd class="completed">3</dd>', page)  # approved twice, rejected once
    # The heatmap: the approval step is where they wait, its p95 on the diagram.
    approval = re.search(r'<g class="step" data-step="manager_approval">.*?</g>', page, re.S).group(
        0
    )
    assert 'fill="#b10026"' in approval  # the darkest colour: the longest wait
    assert re.search(r"p95 (4\.[7-9]|5\.[0-3]) h", approval)  # 5 h, within a bucket (6 %)
    assert "4 times" in page  # the start edge, taken by each of the four
    row = re.search(r'<tr data-step="manager_approval">.*?</tr>', page, re.S).group(0)
    assert ">3<" in row  # left three times
    assert 'role="img"' in page and '<table class="list days-table">' in page  # chart + table


def test_auditors_and_process_admins_read_it_requesters_do_not(client, run) -> None:
    a_day_of_purchases(run)
    for name, status in (("audrey", 200), ("admin", 200), ("alice", 403), ("bob", 403)):
        login(client, name)
        assert client.get(URL).status_code == status, name
    login(client, "alice")
    assert "Reports" not in client.get(reverse("tasks_ui:inbox")).content.decode()


def test_bad_parameters_are_named_and_change_nothing(client, run) -> None:
    login(client, "otto")
    bad = client.get(URL, {"days": "0", "stat": "p99"})
    assert bad.status_code == 400
    text = bad.content.decode()
    assert 'id="e-days"' in text and 'id="e-stat"' in text
    assert client.get(URL, {"version": "99"}).status_code == 404


def test_the_csv_and_the_api_carry_the_same_numbers(client, run) -> None:
    a_day_of_purchases(run)
    login(client, "otto")
    exported = client.get(URL, {"format": "csv", "days": "7"})
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode())))
    total = next(r for r in rows if r["section"] == "total")
    assert (total["started"], total["completed"]) == ("4", "3")
    step = next(r for r in rows if r["day_or_step"] == "manager_approval")
    assert step["left"] == "3"
    assert len([r for r in rows if r["section"] == "day"]) == 7
    answer = client.get("/api/v1/reports/purchase-approval", {"days": 7})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["started"], body["completed"], body["incidents_open"]) == (4, 3, 0)
    approval = next(s for s in body["steps"] if s["step"] == "manager_approval")
    assert approval["left"] == 3 and abs(approval["p95"] - float(step["p95_s"])) < 0.1
    assert {"from_step": "", "to_step": "check_budget", "taken": 4} in body["edges"]
    login(client, "alice")
    assert client.get("/api/v1/reports/purchase-approval").status_code == 403


def test_purchases_over_their_expected_duration_are_listed(client, run) -> None:
    a_day_of_purchases(run)  # the demo's purchases: 3 days in all, 1 day for the approval
    run.advance(hours=20)  # the waiting one came to the approval 25 h ago
    login(client, "audrey")
    page = client.get(URL).content.decode()
    assert re.search(r'<dd class="expected">3\.0 d</dd>', page)
    assert re.search(r'<dd class="over-now">0</dd>', page)  # under the 3 days as a whole
    over = re.search(r'<table class="list over-table">.*?</table>', page, re.S).group(0)
    (waiting,) = re.findall(r'href="/instances/(\d+)/"', over)
    assert "<td>manager_approval</td>" in over and "the whole process" not in over
    row = re.search(r'<tr data-step="manager_approval">.*?</tr>', page, re.S).group(0)
    assert '<td class="over-now">1</td>' in row and '<td class="late">0</td>' in row
    body = client.get("/api/v1/reports/purchase-approval").json()
    assert body["sla"] == {"process_s": 259200.0, "steps": {"manager_approval": 86400.0}}
    assert body["over_sla"]["instances"] == 0
    (late,) = body["over_sla"]["listed"]
    assert (late["instance"], late["step"]) == (int(waiting), "manager_approval")
    assert 3590 < late["over_s"] < 3610  # 25 h in a step expected to take 24 h
    approval = next(s for s in body["steps"] if s["step"] == "manager_approval")
    assert (approval["expected_s"], approval["over_sla_now"], approval["late"]) == (86400.0, 1, 0)
    run.advance(days=2)  # now over the three days as a whole too
    body = client.get("/api/v1/reports/purchase-approval").json()
    assert body["over_sla"]["instances"] == 1
    assert [e["step"] for e in body["over_sla"]["listed"]] == ["manager_approval", ""]
