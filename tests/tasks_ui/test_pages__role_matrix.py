"""Every page, for every role: what each person may open, and that what they
may not see answers 404 (not 403: its existence is not leaked)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.tasks_ui.conftest import login, purchase

pytestmark = pytest.mark.django_db

# alice starts the purchase (requester); bob is a manager (approver, a
# candidate); dave a director (approver, not a candidate); otto an operator;
# audrey an auditor; admin a superuser (process admin).
EXPECTED = {
    #                 alice bob  dave otto audrey admin
    "inbox":          (200, 200, 200, 200, 200, 200),
    "task":           (200, 200, 404, 200, 200, 200),
    "instances":      (200, 200, 200, 200, 200, 200),
    "instance":       (200, 404, 404, 200, 200, 200),
    "start-list":     (200, 200, 200, 200, 200, 200),
    "start":          (200, 404, 404, 404, 404, 404),  # starters: requesters only
    "audit":          (404, 404, 404, 404, 200, 200),
    "audit-csv":      (404, 404, 404, 404, 200, 200),
    "absences":       (200, 200, 200, 200, 200, 200),
    "admin":          (302, 302, 302, 200, 200, 200),
}  # fmt: skip
PEOPLE = ("alice", "bob", "dave", "otto", "audrey", "admin")


@pytest.mark.parametrize("page", sorted(EXPECTED))
def test_each_role_opens_exactly_its_pages(client, run, page) -> None:
    task = purchase(run, "desk")
    urls = {
        "task": reverse("tasks_ui:task", args=[task.pk]),
        "instance": reverse("tasks_ui:instance", args=[task.instance_id]),
        "start": reverse("tasks_ui:start", args=["purchase-approval"]),
        "admin": reverse("admin:index"),
    }
    url = urls.get(page) or reverse(f"tasks_ui:{page}")
    for person, expected in zip(PEOPLE, EXPECTED[page], strict=True):
        login(client, person)
        assert client.get(url).status_code == expected, (page, person)


@pytest.mark.parametrize("person", PEOPLE)
def test_guessing_other_ids_finds_nothing(client, run, person) -> None:
    task = purchase(run, "desk")
    login(client, person)
    for name, pk in [("task", task.pk + 1), ("instance", task.instance_id + 1),
                     ("task", 10**9), ("instance", 10**9)]:  # fmt: skip
        assert client.get(reverse(f"tasks_ui:{name}", args=[pk])).status_code == 404


@pytest.mark.parametrize(
    ("person", "action", "status"),
    [("dave", "claim", 404), ("dave", "decide", 404), ("alice", "decide", 403),
     ("alice", "claim", 403), ("audrey", "decide", 403), ("audrey", "comment", 403),
     ("alice", "comment", 302),
     ("otto", "release", 409), ("otto", "reassign", 302), ("bob", "claim", 302)],
)  # fmt: skip
def test_actions_per_role(client, run, person, action, status) -> None:
    task = purchase(run, "desk")
    login(client, person)
    data = {"outcome": "approve", "to": "carol", "text": "noted"}
    # Done: a redirect back (302); refused: the reason in place, with its status.
    answer = client.post(
        reverse(f"tasks_ui:{action}", args=[task.pk]), data, HTTP_HX_REQUEST="true"
    )
    assert answer.status_code == status, (person, action, answer.content[:200])
