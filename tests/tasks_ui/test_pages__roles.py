"""The other pages: starting, instances for operators and requesters, out of
office, what each role sees, login throttling, styled errors and the CSP."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.models import Absence
from orchestration.models import HumanTask, ProcessEvent, ProcessInstance
from tests.orchestration.factories import PURCHASE_SOURCE
from tests.tasks_ui.conftest import login, purchase

pytestmark = pytest.mark.django_db


def test_the_role_groups_come_from_a_migration(db) -> None:
    # No roles_sync() here: the test database was built by migrations only.
    roles = {g.name: {p.codename for p in g.permissions.all()} for g in Group.objects.all()}
    assert {"requester", "approver", "process-admin", "operator", "auditor"} <= set(roles)
    assert roles["auditor"] == {"view_processdefinition", "view_processversion",
                                "view_processinstance", "view_processevent", "view_legalhold",
                                "hold_processinstance"}  # fmt: skip
    assert "operate_processinstance" in roles["operator"]
    assert {"hold_processinstance", "erase_processinstance"} <= roles["operator"]
    assert "erase_processinstance" not in roles["auditor"]
    assert "publish_processversion" in roles["process-admin"]


def test_the_start_form_comes_from_the_variables_and_names_bad_fields(client, run) -> None:
    login(client, "alice")
    start = reverse("tasks_ui:start", args=["purchase-approval"])
    assert "Purchase approval" in client.get(reverse("tasks_ui:start-list")).content.decode()
    form = client.get(start).content.decode()
    assert 'name="item"' in form and 'name="amount"' in form and 'step="any"' in form
    bad = client.post(start, {"item": "", "amount": "lots"})
    html = bad.content.decode()
    assert bad.status_code == 400 and "Nothing was started" in html
    assert 'id="ve-amount"' in html and "expected number" in html
    negative = client.post(start, {"item": "desk", "amount": "-5"})
    assert negative.status_code == 400 and "must be &gt;= 0" in negative.content.decode()
    assert not ProcessInstance.objects.exists()
    made = client.post(start, {"item": "desk", "amount": "5000", "business_key": "PO-7"})
    instance = ProcessInstance.objects.get()
    assert made.status_code == 302 and made.url == reverse("tasks_ui:instance", args=[instance.pk])
    assert (instance.business_key, instance.variables["amount"]) == ("PO-7", 5000)
    # Bob is no requester: the process is not there for him.
    login(client, "bob")
    assert client.get(start).status_code == 404
    assert client.post(start, {"item": "x", "amount": "1"}).status_code == 404


def test_instances_operators_see_all_requesters_their_own(client, run) -> None:
    mine = purchase(run, "desk").instance
    login(client, "otto")  # operator
    page = client.get(reverse("tasks_ui:instances"), {"status": "waiting"})
    assert [i.pk for i in page.context["page"].object_list] == [mine.pk]
    detail = client.get(reverse("tasks_ui:instance", args=[mine.pk])).content.decode()
    assert 'id="cancel"' in detail and "▶ now" in detail and "✓ " in detail
    login(client, "dave")  # an approver who did not start it
    assert list(client.get(reverse("tasks_ui:instances")).context["page"].object_list) == []
    assert client.get(reverse("tasks_ui:instance", args=[mine.pk])).status_code == 404
    login(client, "alice")  # the requester who started it: sees it, cannot cancel
    assert client.get(reverse("tasks_ui:instance", args=[mine.pk])).status_code == 200
    refused = client.post(reverse("tasks_ui:instance-cancel", args=[mine.pk]),
                          HTTP_HX_REQUEST="true")  # fmt: skip
    assert (
        refused.status_code == 403 and "alice lacks the operator role" in refused.content.decode()
    )
    login(client, "otto")
    not_failed = client.post(reverse("tasks_ui:instance-retry", args=[mine.pk]),
                             HTTP_HX_REQUEST="true")  # fmt: skip
    assert not_failed.status_code == 409  # retry is for failed instances and incidents
    client.post(reverse("tasks_ui:instance-cancel", args=[mine.pk]))
    mine.refresh_from_db()
    assert mine.status in {"cancelled", "compensated"}
    bad = client.get(reverse("tasks_ui:instances"), {"status": "bogus", "version": "x"})
    assert bad.status_code == 400


def test_operators_suspend_resume_and_move_from_the_instance_page(client, run) -> None:
    from orchestration.models import HumanTask

    mine = purchase(run, "desk").instance
    page = reverse("tasks_ui:instance", args=[mine.pk])
    login(client, "alice")  # the requester sees no interventions
    assert 'id="suspend"' not in client.get(page).content.decode()
    refused = client.post(reverse("tasks_ui:instance-suspend", args=[mine.pk]),
                          {"reason": "x"}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert refused.status_code == 403
    login(client, "otto")
    html = client.get(page).content.decode()
    assert 'id="suspend"' in html and 'id="move"' in html and 'id="resume"' not in html
    no_reason = client.post(reverse("tasks_ui:instance-suspend", args=[mine.pk]),
                            {"reason": ""}, HTTP_HX_REQUEST="true")  # fmt: skip
    assert no_reason.status_code == 400
    client.post(reverse("tasks_ui:instance-suspend", args=[mine.pk]), {"reason": "audit"})
    html = client.get(page).content.decode()
    assert "by otto: audit" in html and 'id="resume"' in html and 'id="move"' not in html
    client.post(reverse("tasks_ui:instance-resume", args=[mine.pk]), {"reason": "fine"})
    moved = client.post(reverse("tasks_ui:instance-move", args=[mine.pk]),
                        {"source": "manager_approval", "target": "manager_approval",
                         "reason": "redo with the new budget"})  # fmt: skip
    assert moved.status_code == 302
    assert list(HumanTask.objects.filter(instance=mine).order_by("pk")
                .values_list("status", flat=True)) == ["withdrawn", "open"]  # fmt: skip
    kinds = [e.kind for e in ProcessEvent.objects.filter(instance=mine, actor__username="otto")]
    assert {"instance.suspended", "instance.resumed", "instance.moved"} <= set(kinds)


def test_out_of_office_is_each_persons_own(client, run) -> None:
    bob = login(client, "bob")
    page = reverse("tasks_ui:absences")
    bad = client.post(page, {"starts_at": "2030-01-10T09:00", "ends_at": "2030-01-05T09:00",
                             "delegate": "nobody"})  # fmt: skip
    html = bad.content.decode()
    assert bad.status_code == 400 and "no active user &#x27;nobody&#x27;" in html
    made = client.post(page, {"starts_at": "2030-01-10T09:00", "ends_at": "2030-01-20T09:00",
                              "delegate": "carol", "note": "skiing"})  # fmt: skip
    assert made.status_code == 302
    absence = Absence.objects.get(user=bob)
    assert absence.delegate.username == "carol"
    assert ProcessEvent.objects.filter(kind="absence.recorded", actor=bob).exists()
    login(client, "carol")
    assert client.post(reverse("tasks_ui:absence-delete", args=[absence.pk])).status_code == 404
    login(client, "bob")
    client.post(reverse("tasks_ui:absence-delete", args=[absence.pk]))
    assert not Absence.objects.exists()


@pytest.mark.parametrize(
    ("username", "links"),
    [("alice", {"Inbox", "Start", "Instances"}),
     ("bob", {"Inbox"}),  # an approver starts nothing and sees no one's instances
     ("otto", {"Inbox", "Instances", "Admin"}),
     ("audrey", {"Instances", "Audit log", "Admin"}),
     ("admin", {"Inbox", "Start", "Instances", "Audit log", "Admin"})],
)  # fmt: skip
def test_people_see_only_the_places_they_may_go(client, run, username, links) -> None:
    login(client, username)
    html = client.get(reverse("tasks_ui:inbox")).content.decode()
    nav = html.split('<nav aria-label="Main" id="menu">', 1)[1].split("</nav>", 1)[0]
    names = ("Inbox", "Start", "Instances", "Audit log", "Admin")
    shown = {name for name in names if re.search(rf">{name}</a>", nav)}
    assert shown == links


def test_errors_are_styled_pages_even_with_debug_on(client, run, settings) -> None:
    settings.DEBUG = True
    login(client, "bob")
    for path in ("/no/such/page/", reverse("tasks_ui:task", args=[12345])):
        page = client.get(path)
        assert page.status_code == 404
        assert '<p id="why">' in page.content.decode() and "Technical" not in page.content.decode()


def test_login_logout_and_password_guessing_is_throttled(run, settings) -> None:
    browser = Client()
    form = browser.get(reverse("login"))
    assert form.status_code == 200 and 'autocomplete="current-password"' in form.content.decode()
    ok = browser.post(reverse("login"), {"username": "bob", "password": "demo"})
    assert ok.status_code == 302 and ok.url == reverse("tasks_ui:home")  # then where the work is
    browser.post(reverse("logout"))
    assert browser.get(reverse("tasks_ui:inbox")).status_code == 302
    guesser = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        wrong = guesser.post(reverse("login"), {"username": "carol", "password": "nope"})
        assert wrong.status_code in {200, 429}
    locked = guesser.post(reverse("login"), {"username": "carol", "password": "demo"})
    assert locked.status_code == 429 and "Too many failed logins" in locked.content.decode()
    # Another person (or the same from elsewhere) is not locked out.
    assert (
        Client().post(reverse("login"), {"username": "dave", "password": "demo"}).status_code == 302
    )


def test_pages_carry_a_strict_content_security_policy(client, run) -> None:
    login(client, "bob")
    response = client.get(reverse("tasks_ui:inbox"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    html = response.content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []  # no inline script
    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in html


def test_an_approver_named_as_a_starter_is_offered_start(client, run) -> None:
    login(client, "bob")
    nav = client.get(reverse("tasks_ui:inbox")).content.decode().split('id="menu">', 1)[1]
    assert ">Start</a>" not in nav.split("</nav>", 1)[0]
    run.publish(PURCHASE_SOURCE.replace("key: purchase-approval", "key: desk-order")
                .replace("{groups: [requesters]}", "{users: [bob]}"))  # fmt: skip
    login(client, "bob")
    nav = client.get(reverse("tasks_ui:inbox")).content.decode().split('id="menu">', 1)[1]
    assert ">Start</a>" in nav.split("</nav>", 1)[0]


@pytest.mark.parametrize(
    ("username", "landing"),
    [("alice", "/inbox/"), ("bob", "/inbox/"), ("otto", "/instances/"), ("audrey", "/audit/")],
)
def test_each_role_lands_where_its_work_is(client, run, username, landing) -> None:
    login(client, username)
    assert client.get("/").url == landing


def test_an_approver_lands_on_the_first_list_that_holds_work(client, run) -> None:
    purchase(run, "desk")  # offered to the managers' group, nobody's own yet
    login(client, "bob")
    page = client.get(reverse("tasks_ui:inbox"))
    assert page.context["chosen"].tab == "group" and "tab=group" in page.context["query"]
    assert 'id="tab-group" aria-current="page"' in page.content.decode()
    run.decide(HumanTask.objects.get(status="open"), "approve", as_="bob")
    assert client.get(reverse("tasks_ui:inbox")).context["chosen"].tab == "mine"  # nothing left
