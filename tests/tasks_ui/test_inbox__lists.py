"""The inbox's lists: tabs and counts, filters, keyset pages, live changes."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl

import pytest
from django.urls import reverse

from accounts.models import User
from orchestration import services
from orchestration.models import HumanTask
from tasks_ui.models import SavedFilter
from tests.tasks_ui.conftest import login, purchase, starter_in_the_group

pytestmark = pytest.mark.django_db
INBOX = reverse("tasks_ui:inbox")


def ids(response) -> list[int]:
    return [row["task"].pk for row in response.context["rows"]]


def counts(response) -> dict[str, str]:
    return {key: count for key, _, count, _n in response.context["tabs"]}


def test_tabs_count_and_list_what_each_person_may_act_on(client, run) -> None:
    offered = purchase(run, "desk")
    mine = purchase(run, "chair")
    bob = login(client, "bob")
    services.task_claim(task_id=mine.pk, actor=bob)
    page = client.get(INBOX)
    assert page.status_code == 200
    assert ids(page) == [mine.pk]  # "My tasks": what bob holds
    assert counts(page) == {"mine": "1", "group": "1", "delegated": "0", "overdue": "0",
                            "done": "0"}  # fmt: skip
    assert ids(client.get(INBOX, {"tab": "group"})) == [offered.pk]
    # Carol (another manager) no longer sees the task bob claimed.
    login(client, "carol")
    assert ids(client.get(INBOX, {"tab": "group"})) == [offered.pk]
    # Alice started both: she may see them, but decides neither; no tab lists them.
    login(client, "alice")
    assert counts(client.get(INBOX)) == dict.fromkeys(
        ["mine", "group", "delegated", "overdue", "done"], "0"
    )


def test_delegated_overdue_and_done(client, run) -> None:
    first, second = purchase(run, "desk"), purchase(run, "lamp")
    bob = login(client, "bob")
    uma = bob.__class__.objects.get(username="uma")
    services.task_delegate(task_id=first.pk, actor=bob, to=uma, note="you know desks")
    login(client, "uma")
    page = client.get(INBOX, {"tab": "delegated"})
    assert ids(page) == [first.pk] and counts(page)["delegated"] == "1"
    run.advance(days=1, hours=1)  # past the first escalation, before the due time
    login(client, "bob")
    assert ids(client.get(INBOX, {"tab": "overdue"})) == []
    run.advance(hours=23, minutes=1)  # past due (2 days), and reassigned to directors
    login(client, "dave")
    page = client.get(INBOX, {"tab": "overdue"})
    assert ids(page) == [second.pk] and counts(page)["overdue"] == "1"
    run.decide(second, "approve", as_="dave")
    page = client.get(INBOX, {"tab": "done"})
    assert ids(page) == [second.pk] and "completed" in page.content.decode()
    assert counts(page)["done"] == "1" and counts(page)["overdue"] == "0"


def test_filters_search_and_sorts(client, run) -> None:
    desk = purchase(run, "desk")
    lamp = purchase(run, "lamp")
    HumanTask.objects.filter(pk=lamp.pk).update(priority=90)
    login(client, "bob")
    group = {"tab": "group"}
    assert ids(client.get(INBOX, {**group, "q": "lamp"})) == [lamp.pk]
    assert ids(client.get(INBOX, {**group, "priority": 80})) == [lamp.pk]
    assert ids(client.get(INBOX, {**group, "sort": "priority"})) == [lamp.pk, desk.pk]
    assert ids(client.get(INBOX, {**group, "sort": "age"})) == [desk.pk, lamp.pk]
    assert ids(client.get(INBOX, {**group, "definition": "purchase-approval"})) == [
        desk.pk, lamp.pk]  # fmt: skip
    assert ids(client.get(INBOX, {**group, "due": "none"})) == []
    # Bad input names the field and shows nothing else.
    bad = client.get(INBOX, {"priority": "500", "sort": "sideways"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "Ensure this value is less than or equal to 100." in html
    assert "Select a valid choice. sideways is not one of the available choices." in html


def test_snoozed_tasks_wait_behind_their_toggle(client, run) -> None:
    desk = purchase(run, "desk")
    bob = login(client, "bob")
    services.task_snooze(task_id=desk.pk, actor=bob, until=run.now + timedelta(hours=5))
    assert ids(client.get(INBOX, {"tab": "group"})) == []
    assert ids(client.get(INBOX, {"tab": "group", "snoozed": "on"})) == [desk.pk]
    run.advance(hours=6)
    assert ids(client.get(INBOX, {"tab": "group"})) == [desk.pk]


def test_keyset_pages_cover_every_task_once_with_a_fixed_number_of_queries(
    client, run, django_assert_num_queries, monkeypatch
) -> None:
    for n in range(60):
        purchase(run, f"item {n:02}")
    HumanTask.objects.filter(pk__in=HumanTask.objects.order_by("pk")[10:20]).update(priority=80)
    login(client, "bob")
    monkeypatch.setattr("orchestration.queues.COUNT_CAP", 50)
    tabs = {k: c for k, _, c, _n in client.get(INBOX).context["tabs"]}
    assert (tabs["group"], tabs["mine"]) == ("49+", "0")  # counting stops at the cap
    seen, query, pages = [], {"tab": "group", "sort": "age"}, 0
    while True:
        page = client.get(INBOX, query)
        seen += ids(page)
        pages += 1
        if not page.context["next_query"]:
            break
        query = dict(parse_qsl(page.context["next_query"]))
    assert pages == 3 and len(seen) == 60 and len(set(seen)) == 60
    assert seen == sorted(seen)  # oldest first: creation order
    # The first page and the last cost the same number of queries.
    client.get(INBOX, {"tab": "group"})  # warm the session and the access cache
    with django_assert_num_queries(8) as first:
        client.get(INBOX, {"tab": "group", "sort": "age"})
    with django_assert_num_queries(len(first.captured_queries)):
        client.get(INBOX, query)
    by_priority, query = [], {"tab": "group", "sort": "priority"}
    while query:
        page = client.get(INBOX, query)
        by_priority += ids(page)
        query = dict(parse_qsl(page.context["next_query"])) if page.context["next_query"] else {}
    high = sorted(HumanTask.objects.filter(priority=80).values_list("pk", flat=True))
    assert by_priority == high + sorted(set(seen) - set(high))
    by_due, query = [], {"tab": "group"}
    while query:
        page = client.get(INBOX, query)
        by_due += ids(page)
        query = dict(parse_qsl(page.context["next_query"])) if page.context["next_query"] else {}
    assert by_due == sorted(seen)  # all due two days after creation: creation order
    bad = client.get(INBOX, {"tab": "group", "after": "yesterday~1"})
    assert bad.status_code == 400 and "is not a page of this list" in bad.content.decode()


def test_the_live_check_answers_204_until_something_changes(client, run) -> None:
    desk, lamp = purchase(run, "desk"), purchase(run, "lamp")
    login(client, "bob")
    page = client.get(INBOX, {"tab": "group"})
    version = page.context["version"]
    changes = reverse("tasks_ui:inbox-changes")
    shown = {"tab": "group", "since": version, "shown": [desk.pk, lamp.pk]}
    assert client.get(changes, shown).status_code == 204
    run.decide(desk, "approve", as_="carol")  # someone else takes it
    fresh = client.get(changes, shown, HTTP_HX_REQUEST="true")
    assert fresh.status_code == 200
    assert ids(fresh) == [lamp.pk]
    html = fresh.content.decode()
    assert "“Approve desk for 5000” was decided approve by carol." in html
    # The tab counts come along, swapped in out of band.
    assert 'id="tabs" hx-swap-oob="true"' in html and 'aria-label="1 task">1<' in html
    # What bob did himself is not repeated: the action's own notice said it.
    run.decide(lamp, "approve", as_="bob")
    mine = client.get(changes, {**shown, "since": fresh.context["version"], "shown": [lamp.pk]})
    assert mine.context["gone"] == [] and 'id="gone"' not in mine.content.decode()


def test_saved_filters_are_each_persons_own(client, run) -> None:
    bob = login(client, "bob")
    wanted = {"name": "urgent", "query": "tab=group&priority=75"}
    saved = client.post(reverse("tasks_ui:filter-save"), wanted)
    assert saved.status_code == 302 and saved.url.endswith("?tab=group&priority=75")
    (mine,) = SavedFilter.objects.filter(user=bob)
    assert "urgent" in client.get(INBOX).content.decode()
    login(client, "carol")
    assert "urgent" not in client.get(INBOX).content.decode()
    other = client.post(reverse("tasks_ui:filter-delete", args=[mine.pk]))
    assert other.status_code == 404 and SavedFilter.objects.count() == 1


def test_closed_tasks_leave_the_queues_but_stay_visible_to_their_candidates(run) -> None:
    from orchestration import queues

    decided, cancelled, still = purchase(run, "a"), purchase(run, "b"), purchase(run, "c")
    run.decide(decided, "approve", as_="bob")
    services.instance_cancel(instance_id=cancelled.instance_id, actor=None)
    run.run()
    carol = User.objects.get(username="carol")  # a manager too; decided nothing
    offered = HumanTask.objects.filter(queues.view_q(carol, "offered", run.now))
    seen = HumanTask.objects.filter(queues.view_q(carol, "all", run.now))
    assert list(offered.values_list("pk", flat=True)) == [still.pk]
    assert set(seen.values_list("pk", flat=True)) == {decided.pk, cancelled.pk, still.pk}


ACTIONABLE = ["mine", "group", "delegated", "overdue"]


def test_a_starters_four_eyes_task_is_in_none_of_the_starters_actionable_tabs(client, run) -> None:
    named, offered = starter_in_the_group(run)
    login(client, "bob")
    page = client.get(INBOX)
    assert counts(page) == {"mine": "0", "group": "0", "delegated": "0", "overdue": "0",
                            "done": "0"}  # fmt: skip
    for tab in ACTIONABLE:
        assert ids(client.get(INBOX, {"tab": tab})) == [], tab
    # Another manager is offered both, and sees the review overdue.
    login(client, "carol")
    assert sorted(ids(client.get(INBOX, {"tab": "group"}))) == sorted([named.pk, offered.pk])
    assert ids(client.get(INBOX, {"tab": "overdue"})) == [named.pk]
