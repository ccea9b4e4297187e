"""API keys are made in the admin (the token shown once), revoked by an action,
and both are audited."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages

from accounts.models import User
from api.models import ApiKey
from orchestration.models import ProcessEvent
from tests.api.conftest import api

pytestmark = pytest.mark.django_db


def test_a_superuser_makes_a_key_sees_it_once_and_revokes_it(run, client) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(root)
    otto = User.objects.get(username="otto")
    form = {
        "name": "payments",
        "user": otto.pk,
        "scopes": ["instances:read", "messages:send"],
        "definitions": ["purchase-approval"],
    }
    made = client.post("/admin/api/apikey/add/", form)
    assert made.status_code == 302, made.content[:500]
    shown = " ".join(str(m) for m in get_messages(made.wsgi_request))
    token = re.search(r"pe_[0-9a-f]{12}_\S+", shown).group(0)
    key = ApiKey.objects.get(name="payments")
    assert key.user == otto and key.scopes == ["instances:read", "messages:send"]
    assert key.definitions == ["purchase-approval"]
    assert token.split("_", 2)[2] not in key.secret_hash
    assert api(token).get("/api/v1/instances").status_code == 200
    page = client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert token in page  # the message after saving
    page = client.get(f"/admin/api/apikey/{key.pk}/change/").content.decode()
    assert token not in page and key.prefix in page  # and never again
    client.post("/admin/api/apikey/", {"action": "revoke", "_selected_action": [key.pk]})
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert api(token).get("/api/v1/instances").status_code == 401
    kinds = list(
        ProcessEvent.objects.filter(kind__startswith="api_key.").values_list(
            "kind", "actor__username"
        )
    )
    assert kinds == [("api_key.created", "root"), ("api_key.revoked", "root")]


def test_people_without_the_permission_cannot_make_keys(run, client) -> None:
    staff = User.objects.get(username="otto")  # an operator, staff
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    assert client.get("/admin/api/apikey/add/").status_code == 403
    assert not ApiKey.objects.exists()


def test_the_command_makes_a_key_with_every_scope_from_scope_all(run) -> None:
    from io import StringIO

    from django.core.management import call_command

    from api.models import SCOPES

    out = StringIO()
    call_command("api_key", "create", "ops", "--user", "otto", "--scope", "all", stdout=out)
    assert out.getvalue().startswith("pe_")
    assert sorted(ApiKey.objects.get(name="ops").scopes) == sorted(SCOPES)
    call_command("api_key", "create", "reader", "--user", "otto", "--scope", "instances:read",
                 stdout=StringIO())  # fmt: skip
    assert ApiKey.objects.get(name="reader").scopes == ["instances:read"]
