"""The demo set-up: users, roles and published demo definitions; the demo credit bureau."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from orchestration.models import ProcessVersion
from orchestration.states import VersionStatus

pytestmark = pytest.mark.django_db


def test_demo_setup_is_repeatable_and_publishes_the_demo_definitions() -> None:
    out = StringIO()
    call_command("demo", no_serve=True, stdout=out)
    call_command("demo", no_serve=True, stdout=StringIO())
    published = ProcessVersion.objects.filter(status=VersionStatus.PUBLISHED)
    assert sorted(published.values_list("definition__key", flat=True)) == [
        "identity-check",
        "loan-approval",
        "order-fulfillment",
        "purchase-approval",
    ]
    assert ProcessVersion.objects.count() == 4
    text = out.getvalue()
    assert "Demo ready." in text and "http://127.0.0.1:8000/admin/" in text
    assert "alice" in text and "password 'demo'" in text
    alice = User.objects.get(username="alice")
    assert alice.check_password("demo") and alice.manager.username == "bob"
    assert set(alice.groups.values_list("name", flat=True)) == {"requester", "requesters"}


def test_demo_credit_bureau(client) -> None:
    url = reverse("demo-credit-score")
    ok = client.post(
        url, {"applicant": "Jane Roe", "amount": 5000}, content_type="application/json"
    )
    assert ok.status_code == 200 and 300 <= ok.json()["score"] <= 850
    again = client.post(url, {"applicant": "jane roe"}, content_type="application/json")
    assert again.json()["score"] == ok.json()["score"]
    unknown = client.post(url, {"applicant": "nobody"}, content_type="application/json")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "applicant_unknown")
    bad = client.post(url, "not json", content_type="application/json")
    assert bad.status_code == 400
    assert client.get(url).status_code == 405
