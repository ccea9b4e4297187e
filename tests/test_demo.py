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
    call_command("demo", no_serve=True, force=True, stdout=out)
    call_command("demo", no_serve=True, force=True, stdout=StringIO())
    published = ProcessVersion.objects.filter(status=VersionStatus.PUBLISHED)
    assert sorted(published.values_list("definition__key", flat=True)) == [
        "identity-check",
        "loan-approval",
        "order-fulfillment",
        "purchase-approval",
        "purchase-request",
    ]
    assert ProcessVersion.objects.count() == 5
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


def test_the_demo_refuses_any_database_but_its_own_without_force(settings) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as raised:
        call_command("demo", no_serve=True, stdout=StringIO())
    assert str(raised.value).startswith(
        f"the demo runs on its own SQLite file ({settings.BASE_DIR / 'db.sqlite3'}), not on"
    )
    assert "Pass --force to run it there." in str(raised.value)
    assert not User.objects.filter(username="alice").exists()


def test_development_settings_refuse_a_copy_that_is_not_a_checkout(tmp_path, monkeypatch) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from config.env import require_development_checkout

    monkeypatch.delenv("PROCESS_ENGINE_DEVELOPMENT", raising=False)
    with pytest.raises(
        ImproperlyConfigured, match=r"DJANGO_SETTINGS_MODULE=config\.settings\.base"
    ):
        require_development_checkout(tmp_path)
    (tmp_path / ".git").mkdir()
    require_development_checkout(tmp_path)
    (tmp_path / ".git").rmdir()
    monkeypatch.setenv("PROCESS_ENGINE_DEVELOPMENT", "1")
    require_development_checkout(tmp_path)


def test_a_second_demo_on_a_taken_port_stops_before_seeding_and_names_the_way_out() -> None:
    import socket

    from django.core.management.base import CommandError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(CommandError) as raised:
            call_command("demo", force=True, addrport=f"127.0.0.1:{port}", stdout=StringIO())
    assert f"cannot serve on 127.0.0.1:{port}" in str(raised.value)
    assert "--addrport 127.0.0.1:8001" in str(raised.value)
    assert not User.objects.filter(username="alice").exists()  # nothing seeded
