"""The task page carries its context and has one comment box: a form field
named `comment` is the decision's comment, in the browser and the API alike."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from accounts.models import User
from orchestration import services
from orchestration.exceptions import InvalidInput
from orchestration.models import HumanTask, TaskComment, TaskVote
from tests.tasks_ui.conftest import login

pytestmark = pytest.mark.django_db

TWO_LEVELS = """
key: two-levels
name: Two levels
variables:
  item: {type: string, required: true, label: "What to buy", description: "As on the quote"}
  amount: {type: number, required: true, label: "Amount (EUR)"}
  vendor: {type: object}
start: manager
steps:
  manager:
    type: approval
    name: Manager review
    title: "Buy {{ item }}"
    assignees: {users: [bob]}
    form:
      - {name: comment, type: textarea, label: "Why", required_for: [reject]}
    outcomes: {approve: director, reject: turned_down}
  director:
    type: approval
    name: Director sign-off
    title: "Sign {{ item }}"
    assignees: {users: [carol]}
    priority: 80
    due: 2d
    form:
      - {name: cost_centre, type: choice, choices: [sales, ops]}
      - {name: units, type: integer, required: true}
      - {name: comment, type: textarea, required_for: [reject]}
    outcomes: {approve: done, reject: turned_down}
  done: {type: end, result: approved}
  turned_down: {type: end, result: rejected}
"""


def _task(run, step: str) -> HumanTask:
    return HumanTask.objects.get(step=step, status="open")


@pytest.fixture
def second_level(run):
    run.publish(TWO_LEVELS)
    instance = run.start("two-levels", {"item": "laptop", "amount": 2400.5,
                                        "vendor": {"name": "Acme", "city": "Köln"}},
                         as_="alice", business_key="PO-7")  # fmt: skip
    first = _task(run, "manager")
    run.decide(first, "approve", as_="bob", comment="fits the budget")
    return instance, _task(run, "director")


def test_the_page_names_the_requester_step_earlier_decisions_and_where_outcomes_lead(
    client, run, second_level
) -> None:
    _, task = second_level
    login(client, "carol")
    html = client.get(reverse("tasks_ui:task", args=[task.pk])).content.decode()
    text = re.sub(r"<[^>]+>", "", html)
    assert "Alice" in text.split("Requested by", 1)[1][:80]
    assert 'id="task-step">Director sign-off<' in html and "director<" not in html
    assert "High" in text.split("Priority", 1)[1][:40] and "(80 of 100)" in text
    # Due: the exact time in the reader's zone, the relative one beside it.
    due = re.search(
        r'id="task-due"><time datetime="[^"]+">([^<]+)</time> <span class="muted">\(([^)]+)\)', html
    )
    assert (
        due
        and due.group(2) == "in 2 days"
        and re.match(r"\w{3} \d+ \w{3} \d{4} \d\d:\d\d ", due.group(1))
    )
    decisions = text.split("Earlier decisions", 1)[1].split("Decide", 1)[0]
    assert "bob" in decisions and "Approve" in decisions and "Manager review" in decisions
    assert "fits the budget" in decisions
    assert "Approve → ends the process (approved)" in text
    assert "Reject → ends the process (rejected)" in text
    # Variables by their labels and descriptions; an object readable, not JSON.
    assert "What to buy" in text and "As on the quote" in text and "Amount (EUR)" in text
    assert "2,400.5" in text and '"name"' not in html and "Köln" in text
    # The first decision's answers sit under the step's name.
    assert "Manager review" in text.split("Details of the request", 1)[1]


def test_one_comment_box_whose_rules_apply_and_a_refusal_keeps_every_answer(
    client, run, second_level
) -> None:
    _, task = second_level
    login(client, "carol")
    page = client.get(reverse("tasks_ui:task", args=[task.pk])).content.decode()
    form = page.split('id="decision-form"', 1)[1].split("</form>", 1)[0]
    assert form.count("<textarea") == 1 and 'name="comment"' in form
    answers = {"outcome": "reject", "comment": "", "cost_centre": "ops", "units": "3"}
    refused = client.post(reverse("tasks_ui:decide", args=[task.pk]), answers)
    assert refused.status_code == 400
    html = refused.content.decode()
    box = re.search(r"<textarea[^>]*name=\"comment\"[^>]*>", html).group(0)
    assert 'aria-invalid="true"' in box and "autofocus" in box and "e-comment" in box
    assert 'id="e-comment">required to reject<' in html
    assert '<option value="ops" selected>' in html and 'value="3"' in html
    assert TaskVote.objects.filter(task=task).count() == 0
    # The reason typed into the one box decides it and joins the thread once.
    done = client.post(reverse("tasks_ui:decide", args=[task.pk]),
                       {"outcome": "reject", "comment": "too pricey", "units": "3"})  # fmt: skip
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.outcome == "reject" and task.data["comment"] == "too pricey"
    assert list(TaskComment.objects.filter(task=task).values_list("text", flat=True)) == [
        "too pricey"
    ]


def test_the_first_invalid_field_is_focused_and_other_answers_stay(
    client, run, second_level
) -> None:
    _, task = second_level
    login(client, "carol")
    answers = {"outcome": "approve", "units": "many", "comment": "ok for me"}
    refused = client.post(reverse("tasks_ui:decide", args=[task.pk]), answers)
    html = refused.content.decode()
    units = re.search(r'<input[^>]*name="units"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in units and "autofocus" in units
    assert html.count("autofocus") == 1
    assert ">ok for me</textarea>" in html


def test_the_api_takes_the_comment_either_way_and_names_full_paths(run, second_level) -> None:
    _, task = second_level
    carol = User.objects.get(username="carol")
    with pytest.raises(InvalidInput) as missing:
        services.task_complete(task_id=task.pk, outcome="reject", data={"units": 1}, actor=carol)
    assert missing.value.errors == {"data.comment": ["required to reject"]}
    with pytest.raises(InvalidInput) as twice:
        services.task_complete(task_id=task.pk, outcome="reject", actor=carol,
                               data={"units": 1, "comment": "a"}, comment="b")  # fmt: skip
    assert list(twice.value.errors) == ["comment"]
    assert TaskComment.objects.filter(task=task).count() == 0
    services.task_complete(task_id=task.pk, outcome="reject", data={"units": 1}, actor=carol,
                           comment="too pricey")  # fmt: skip
    task.refresh_from_db()
    assert task.data == {"units": 1, "comment": "too pricey"}


def test_a_comment_field_that_is_not_text_is_refused_at_publish(run) -> None:
    from orchestration.definitions.errors import DefinitionInvalid

    bad = TWO_LEVELS.replace(
        "{name: comment, type: textarea, label", "{name: comment, type: number, label"
    )
    with pytest.raises(DefinitionInvalid) as raised:
        run.publish(bad.replace("key: two-levels", "key: two-levels-bad"))
    assert "steps.manager.form[0].type: a field named 'comment' is the decision's comment" in str(
        raised.value
    )
