"""Acting from the inbox: every action through the services and the one policy
check; 404 for what a person may not see, 403 with the reason for what they
may see but not do; plain posts and htmx alike."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from orchestration.models import HumanTask, TaskComment, TaskVote
from tests.tasks_ui.conftest import login, purchase

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def why(response) -> str:
    html = response.content.decode()
    return html.split('<p id="why">', 1)[1].split("</p>", 1)[0]


def url(name: str, task: HumanTask) -> str:
    return reverse(f"tasks_ui:{name}", args=[task.pk])


def test_approve_inline_without_javascript_and_with_htmx(client, run) -> None:
    desk, lamp = purchase(run, "desk"), purchase(run, "lamp")
    login(client, "bob")
    plain = client.post(url("decide", desk), {"outcome": "approve", "next": "/inbox/?tab=group"})
    assert plain.status_code == 302 and plain.url == "/inbox/?tab=group"
    desk.refresh_from_db()
    assert (desk.status, desk.outcome, desk.decided_by.username) == ("completed", "approve", "bob")
    quick = client.post(url("decide", lamp), {"outcome": "approve", "from": "row"}, **HX)
    assert (
        quick.status_code == 200
        and "You approved “Approve lamp for 5000”" in quick.content.decode()
    )
    # A second decision is a conflict that changes nothing.
    again = client.post(url("decide", lamp), {"outcome": "reject", "comment": "late"}, **HX)
    assert again.status_code == 409 and "already completed" in again.content.decode()
    assert TaskVote.objects.filter(task=lamp).count() == 1


def test_a_form_decision_names_the_field_and_keeps_the_answers(client, run) -> None:
    desk = purchase(run, "desk")
    login(client, "bob")
    missing = client.post(url("decide", desk), {"outcome": "reject", "comment": ""})
    assert missing.status_code == 400
    html = missing.content.decode()
    assert 'id="e-comment"' in html and "required to reject" in html
    assert TaskVote.objects.count() == 0
    done = client.post(url("decide", desk), {"outcome": "reject", "comment": "too dear"})
    assert done.status_code == 302
    desk.refresh_from_db()
    assert (
        desk.outcome == "reject"
        and desk.instance.variables["manager_approval"]["comment"] == "too dear"
    )
    assert TaskComment.objects.get(task=desk).text == "too dear"  # one comment, not two


def test_claim_release_and_the_loser_of_a_claim_is_told_who_has_it(client, run) -> None:
    desk = purchase(run, "desk")
    login(client, "bob")
    assert client.post(url("claim", desk)).status_code == 302
    carol = Client()
    login(carol, "carol")
    lost = carol.post(url("claim", desk), **HX)
    assert lost.status_code == 403 and f"task {desk.pk} is claimed by bob" in lost.content.decode()
    lost_decide = carol.post(url("decide", desk), {"outcome": "approve"})
    assert lost_decide.status_code == 302  # back, with the reason as a message
    assert "is claimed by bob" in carol.get(lost_decide.url).content.decode()
    assert client.post(url("release", desk)).status_code == 302
    desk.refresh_from_db()
    assert desk.claimed_by is None and desk.status == "open"


def test_four_eyes_through_the_inbox(client, run) -> None:
    # Alice starts the purchase and is a manager too: she sees it, may not decide it.
    from django.contrib.auth.models import Group

    from accounts.models import User

    User.objects.get(username="alice").groups.add(Group.objects.get(name="managers"))
    desk = purchase(run, "desk")
    login(client, "alice")
    page = client.get(url("task", desk))
    assert page.status_code == 200
    assert "alice started this instance and is excluded from deciding it (four-eyes)" in (
        page.content.decode())  # fmt: skip
    assert 'id="decision-form"' not in page.content.decode()
    for name, data in [("decide", {"outcome": "approve"}), ("claim", {})]:
        refused = client.post(url(name, desk), data, **HX)
        assert refused.status_code == 403 and "(four-eyes)" in refused.content.decode()
    bulk = client.post(reverse("tasks_ui:bulk"), {"action": "approve", "task": [desk.pk]}, **HX)
    assert "(four-eyes)" in bulk.content.decode()
    desk.refresh_from_db()
    assert desk.status == "open" and not TaskVote.objects.exists()


def test_other_peoples_tasks_do_not_exist_for_you(client, run) -> None:
    desk = purchase(run, "desk")
    login(client, "uma")  # an underwriter: not a candidate, not the starter
    for name in ("task",):
        assert client.get(url(name, desk)).status_code == 404
    for name in ("decide", "claim", "release", "delegate", "reassign", "snooze", "comment",
                 "hand-back"):  # fmt: skip
        answer = client.post(url(name, desk), {"outcome": "approve", "to": "uma", "text": "hi"})
        assert answer.status_code == 404, name
        assert "No such task" in answer.content.decode()
    missing = client.get(reverse("tasks_ui:task", args=[desk.pk + 1000]))
    hidden = client.get(url("task", desk))
    assert missing.status_code == 404 and why(missing) == why(hidden) == (
        "No such task, or not one you may see.")  # fmt: skip
    desk.refresh_from_db()
    assert desk.status == "open" and desk.claimed_by is None and not desk.comments.exists()


def test_bulk_checks_every_row_on_its_own_and_one_failure_stops_nothing(client, run) -> None:
    a, b, c = purchase(run, "a"), purchase(run, "b"), purchase(run, "c")
    login(client, "carol")
    client.post(url("claim", b))  # carol holds b: bob may not decide it
    login(client, "bob")
    chosen = {"action": "approve", "task": [a.pk, b.pk, c.pk, 999999]}
    answer = client.post(reverse("tasks_ui:bulk"), chosen, **HX)
    html = answer.content.decode()
    assert f"Task {a.pk}: approve done" in html and f"Task {c.pk}: approve done" in html
    assert f"task {b.pk} is claimed by carol" in html and "Task 999999: no such task" in html
    statuses = dict(HumanTask.objects.values_list("pk", "status"))
    assert (statuses[a.pk], statuses[b.pk], statuses[c.pk]) == ("completed", "open", "completed")
    # Reject needs a comment on this form: every row says so, none is decided.
    d = purchase(run, "d")
    rejected = client.post(reverse("tasks_ui:bulk"), {"action": "reject", "task": [d.pk]}, **HX)
    assert "comment: required to reject" in rejected.content.decode()


def test_delegate_hand_back_reassign_snooze_and_comment(client, run) -> None:
    desk = purchase(run, "desk")
    login(client, "bob")
    client.post(url("delegate", desk), {"to": "carol", "note": "<i>please</i>"})
    desk.refresh_from_db()
    assert (desk.claimed_by.username, desk.delegate.username) == ("bob", "carol")
    nobody = client.post(url("reassign", desk), {"to": "ghost"}, **HX)
    assert (
        nobody.status_code == 400 and "no active user &#x27;ghost&#x27;" in nobody.content.decode()
    )
    carol = Client()
    login(carol, "carol")
    page = carol.get(url("task", desk)).content.decode()
    assert "&lt;i&gt;please&lt;/i&gt;" in page and "<i>please" not in page
    assert "delegated it to carol (acting for bob)" in page
    carol.post(url("hand-back", desk))
    desk.refresh_from_db()
    assert desk.delegate is None
    client.post(url("comment", desk), {"text": "looking"})
    past_due = client.post(url("snooze", desk), {"until": "2099-01-01T09:00"}, **HX)
    assert (
        past_due.status_code == 400
        and "after the task&#x27;s due time" in past_due.content.decode()
    )
    client.post(url("reassign", desk), {"to": "carol"})
    desk.refresh_from_db()
    assert desk.claimed_by.username == "carol"
    history = carol.get(url("task", desk)).content.decode()
    for line in ("bob delegated it to carol", "carol handed it back to bob", "bob commented",
                 "bob reassigned it from bob to carol"):  # fmt: skip
        assert line in history, line


def test_posts_need_the_csrf_token(run) -> None:
    desk = purchase(run, "desk")
    strict = Client(enforce_csrf_checks=True)
    login(strict, "bob")
    assert strict.post(url("decide", desk), {"outcome": "approve"}).status_code == 403
    assert strict.post(url("decide", desk), {"outcome": "approve"}, **HX).status_code == 403
    desk.refresh_from_db()
    assert desk.status == "open"
    token = strict.get(url("task", desk)).context["csrf_token"]
    ok = strict.post(url("decide", desk), {"outcome": "approve"}, HTTP_X_CSRFTOKEN=str(token))
    assert ok.status_code == 302
    desk.refresh_from_db()
    assert desk.status == "completed"


def test_hostile_values_stay_escaped_and_long_ones_are_collapsed(client, run) -> None:
    desk = purchase(run, "<script>alert(1)</script>")
    instance = desk.instance
    instance.variables = {**instance.variables, "notes": "x" * 5000}
    instance.save(update_fields=["variables"])
    login(client, "bob")
    html = client.get(url("task", desk)).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<details class="fold"><summary>' + "x" * 79 + "…</summary>" in html
    inbox = client.get(reverse("tasks_ui:inbox"), {"tab": "group"}).content.decode()
    assert "<script>alert(1)" not in inbox


def test_due_times_read_in_the_persons_time_zone(client, run) -> None:
    from zoneinfo import ZoneInfo

    desk = purchase(run, "desk")
    bob = login(client, "bob")
    bob.timezone = "Asia/Tokyo"
    bob.save()
    local = desk.due_at.astimezone(ZoneInfo("Asia/Tokyo"))
    html = client.get(url("task", desk)).content.decode()
    exact = f"{local:%a} {local.day} {local:%b %Y %H:%M} JST"
    assert f'>{exact}</time> <span class="muted">(in 2 days)</span>' in html


def test_operators_push_a_task_through_from_its_page(client, run) -> None:
    task = purchase(run, "desk")
    login(client, "bob")
    page = client.get(reverse("tasks_ui:task", args=[task.pk]))
    assert "Push through" not in page.content.decode()
    refused = client.post(reverse("tasks_ui:force", args=[task.pk]),
                          {"outcome": "approve", "reason": "x"}, follow=True)  # fmt: skip
    assert "bob lacks the operator role" in refused.content.decode()
    task.refresh_from_db()
    assert task.status == "open"
    login(client, "otto")
    page = client.get(reverse("tasks_ui:task", args=[task.pk]))
    assert "Push through (operator)" in page.content.decode()
    done = client.post(reverse("tasks_ui:force", args=[task.pk]),
                       {"outcome": "approve", "reason": "approved on the phone"})  # fmt: skip
    assert done.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.outcome) == ("completed", "approve")
    history = client.get(reverse("tasks_ui:task", args=[task.pk])).content.decode()
    assert "otto pushed it through as approve (operator): approved on the phone" in history
