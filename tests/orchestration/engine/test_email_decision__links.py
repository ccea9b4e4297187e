"""Deciding from email: a confirmation page, one decision, and clear refusals."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from orchestration import services
from orchestration.models import HumanTask, TaskVote
from orchestration.side_effects import decision_links as email_links
from tests.conftest import make_user
from tests.orchestration.engine.conftest import publish

pytestmark = pytest.mark.django_db

ASK = """
key: ask
name: Ask
start: ask
steps:
  ask:
    type: approval
    title: Buy a desk
    assignees: {groups: [managers]}
    exclude: [starter]
    due: 1d
    form: [{name: comment, type: text, required_for: [reject]}]
    outcomes: {approve: done, reject: done}
  done: {type: end, result: ok}
"""


@pytest.fixture
def task(roles, worker, clock):
    people = {n: make_user(n, "managers", email=f"{n}@example.com") for n in ("mia", "max")}
    people["sam"] = make_user("sam", "requester", "managers", email="sam@example.com")
    publish(ASK)
    instance = services.instance_start(key="ask", variables={}, actor=people["sam"])
    worker.run_until_idle()
    return HumanTask.objects.get(instance=instance), people


def link_in(message, outcome: str) -> str:
    url = re.search(rf"^{outcome}: (\S+)$", message.body, re.M).group(1)
    return url.removeprefix("http://127.0.0.1:8000")


def test_each_assignee_gets_links_for_the_outcomes_that_need_no_input(task) -> None:
    task, _ = task
    assert sorted(m.to[0] for m in mail.outbox) == ["max@example.com", "mia@example.com"]
    message = next(m for m in mail.outbox if m.to == ["mia@example.com"])
    assert "approve: http://127.0.0.1:8000/decide/" in message.body
    assert "reject:" not in message.body  # a reject needs a comment: no link
    assert "sam@example.com" not in [m.to[0] for m in mail.outbox]  # the starter is excluded


def test_get_confirms_post_decides_once(client, task) -> None:
    task, people = task
    message = next(m for m in mail.outbox if m.to == ["mia@example.com"])
    url = link_in(message, "approve")
    people["mia"].timezone = "Asia/Kolkata"
    people["mia"].save()
    page = client.get(url)
    assert page.status_code == 200 and "Confirm: Approve" in page.content.decode()
    # Due a day after Monday 09:00 UTC, read in mia's zone (no summer time there).
    assert "Due Tue " in page.content.decode()
    assert " 14:30 IST (Asia/Kolkata)." in page.content.decode()
    assert not TaskVote.objects.exists()  # a GET changes nothing
    done = client.post(url)
    assert done.status_code == 200 and "Buy a desk" in done.content.decode()
    (vote,) = TaskVote.objects.all()
    assert (vote.voter, vote.outcome) == (people["mia"], "approve")
    again = client.post(url)
    assert again.status_code == 400 and "already decided" in again.content.decode()
    assert TaskVote.objects.count() == 1


def test_tampered_expired_and_no_longer_allowed_links_change_nothing(client, task, clock) -> None:
    task, people = task
    good = email_links.make(task, people["mia"].pk, "approve")
    url = reverse("tasks_ui:decide-from-email", args=[good[:-2] + "xx"])
    assert "not valid" in client.post(url).content.decode()
    old = email_links.make(task, people["mia"].pk, "approve", now=clock() - timedelta(hours=73))
    expired = client.post(reverse("tasks_ui:decide-from-email", args=[old]))
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    # Four-eyes through the link: the policy refuses the starter like anywhere else.
    starter = email_links.make(task, people["sam"].pk, "approve")
    refused = client.post(reverse("tasks_ui:decide-from-email", args=[starter]))
    assert refused.status_code == 403
    assert "sam started this instance and is excluded" in refused.content.decode()
    # Work moved away from mia after her email: her link no longer decides.
    services.task_reassign(task_id=task.pk, actor=people["max"], to=people["max"])
    moved = client.post(reverse("tasks_ui:decide-from-email", args=[good]))
    assert moved.status_code == 403 and "mia is not an assignee" in moved.content.decode()
    assert not TaskVote.objects.exists()
    task.refresh_from_db()
    assert task.status == "open"


def test_on_a_quorum_task_each_persons_link_decides_until_the_task_closes(
    client, roles, worker, clock
) -> None:
    people = {n: make_user(n, "board", email=f"{n}@example.com") for n in ("ana", "ben", "cid")}
    publish("""
key: board
name: Board
start: vote
steps:
  vote:
    type: approval
    title: Approve the budget
    assignees: {groups: [board]}
    quorum: 2
    outcomes: {approve: done, reject: done}
  done: {type: end, result: ok}
""")
    instance = services.instance_start(key="board", variables={}, actor=None)
    worker.run_until_idle()
    task = HumanTask.objects.get(instance=instance)
    links = {
        n: link_in(next(m for m in mail.outbox if m.to == [f"{n}@example.com"]), "approve")
        for n in people
    }
    assert client.post(links["ana"]).status_code == 200
    task.refresh_from_db()
    assert task.status == "open"  # one of two votes
    # ana's own link is spent; ben's still asks and decides.
    assert "already decided" in client.get(links["ana"]).content.decode()
    page = client.get(links["ben"])
    assert page.status_code == 200 and "Confirm: Approve" in page.content.decode()
    assert client.post(links["ben"]).status_code == 200
    task.refresh_from_db()
    assert task.status == "completed"
    assert sorted(TaskVote.objects.values_list("voter__username", flat=True)) == ["ana", "ben"]
    # Closed: every link says so, cid's (who never voted) included, and changes nothing.
    for name in people:
        for answer in (client.get(links[name]), client.post(links[name])):
            assert "already decided" in answer.content.decode(), name
    assert TaskVote.objects.count() == 2
