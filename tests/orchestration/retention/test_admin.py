"""The admin's retention pages: an auditor places and lifts a hold with a
reason; an operator erases a data subject after a dry run; the user list's
action opens the erasure for an account; others are refused."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from orchestration.models import LegalHold, ProcessEvent
from tests.conftest import make_user
from tests.orchestration.retention.conftest import NAME, ended, places_holding, settle

pytestmark = pytest.mark.django_db

ADD = reverse("admin:orchestration_legalhold_add")
LIST = reverse("admin:orchestration_legalhold_changelist")
ERASE = reverse("admin:orchestration_legalhold_erase")


def test_an_auditor_places_and_lifts_a_hold_with_reasons(client, run) -> None:
    auditor = make_user("aud", "auditor", is_staff=True)
    instance = ended(run)
    client.force_login(auditor)
    form = client.get(ADD)
    assert form.status_code == 200 and 'name="reason"' in form.content.decode()
    nothing = client.post(ADD, {"reason": "Litigation 17"})
    assert nothing.status_code == 200 and "name exactly one of" in nothing.content.decode()
    unknown = client.post(ADD, {"instance": "999999", "reason": "Litigation 17"})
    assert "No such instance." in unknown.content.decode()
    assert not LegalHold.objects.exists()
    placed = client.post(ADD, {"instance": str(instance.pk), "reason": "Litigation 17"})
    assert placed.status_code == 302 and placed.url == LIST
    hold = LegalHold.objects.get()
    assert (hold.instance, hold.placed_by, hold.reason) == (instance, auditor, "Litigation 17")
    listing = client.get(LIST).content.decode()
    assert f"instance #{instance.pk}" in listing and "Litigation 17" in listing

    ask = client.post(LIST, {"action": "lift_selected", "_selected_action": [hold.pk]})
    assert ask.status_code == 200 and "Why the hold ends" in ask.content.decode()
    client.post(LIST, {"action": "lift_selected", "_selected_action": [hold.pk],
                       "_lift": "1", "reason": "case closed"})  # fmt: skip
    hold.refresh_from_db()
    assert (hold.lifted_by, hold.lift_reason) == (auditor, "case closed")
    kinds = list(
        ProcessEvent.objects.filter(kind__startswith="hold.").values_list("kind", flat=True)
    )
    assert kinds == ["hold.placed", "hold.lifted"]


def test_an_operator_erases_after_a_dry_run_and_others_may_not(client, run) -> None:
    operator = make_user("otto", "operator", is_staff=True)
    auditor = make_user("aud", "auditor", is_staff=True)
    ended(run)
    settle(run)
    client.force_login(auditor)
    assert client.get(ERASE).status_code == 403
    client.force_login(operator)
    dry = client.post(ERASE, {"value": NAME, "reason": "DSAR 21", "_dry_run": "1"})
    page = dry.content.decode()
    assert dry.status_code == 200 and "Would erase" in page and 'id="erase"' in page
    assert places_holding(NAME)  # a dry run changes nothing
    done = client.post(ERASE, {"value": NAME, "reason": "DSAR 21", "_erase": "1"})
    assert done.status_code == 200 and "Erased" in done.content.decode()
    assert places_holding(NAME) == []
    assert ProcessEvent.objects.filter(kind="subject.erased", actor=operator).exists()


def test_the_user_list_opens_the_erasure_for_an_account(client, run) -> None:
    operator = make_user("otto", "operator", is_staff=True)
    # Operators who also manage accounts (the operator role alone does not).
    operator.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    mia = operator.__class__.objects.get(username="mia")
    client.force_login(operator)
    users = reverse("admin:accounts_user_changelist")
    opened = client.post(users, {"action": "erase_selected_users", "_selected_action": [mia.pk]})
    assert opened.status_code == 302 and opened.url == f"{ERASE}?user={mia.pk}"
    form = client.get(opened.url).content.decode()
    assert f'<option value="{mia.pk}" selected>' in form
