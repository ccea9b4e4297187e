"""The inbox in a real browser: Playwright driving Debian's Chromium against a
live server. Log in, claim, decide with a form, bulk approve, and watch an
escalated task arrive in the alternate approver's open inbox; no console
errors (the Content-Security-Policy included) on any page.

The shared pieces are in tests/browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from orchestration.demo import seed
from orchestration.models import HumanTask
from orchestration.testing import ProcessTest
from tests.browser import Person
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def run(transactional_db, settings) -> Iterator[ProcessTest]:
    settings.ORCHESTRATION_INBOX_POLL_SECONDS = 1
    seed.seed_users()
    with ProcessTest() as running:
        running.publish(PURCHASE_SOURCE)
        yield running


@pytest.fixture
def people(browser, live_server) -> Iterator[Any]:
    made: list[Person] = []

    def person(username: str) -> Person:
        someone = Person(browser, live_server.url)
        someone.log_in(username)
        made.append(someone)
        return someone

    yield person
    problems = [p for someone in made for p in someone.problems]
    for someone in made:
        someone.close()
    assert problems == []


def start(run: ProcessTest, item: str) -> HumanTask:
    instance = run.start("purchase-approval", {"item": item, "amount": 5000}, as_="alice")
    return run.open_tasks(instance)[0]


def test_claim_decide_with_a_form_and_bulk_approve(run, people) -> None:
    desk, lamp, chair = start(run, "desk"), start(run, "lamp"), start(run, "chair")
    bob = people("bob")
    page = bob.page
    assert page.locator("#tab-mine .count").inner_text() == "0"
    page.locator("#tab-group").click()
    rows = page.locator("#task-list tbody tr")
    assert rows.count() == 3

    # Claim from the row: the notice says so and the row leaves the group queue.
    page.locator(f"#task-{desk.pk}").get_by_role("button", name="Claim").click()
    page.locator("#notices").get_by_text("You claimed “Approve desk for 5000”").wait_for()
    page.locator(f"#task-{desk.pk}").wait_for(state="detached")
    desk.refresh_from_db()
    assert desk.claimed_by.username == "bob"

    # Decide on the task page: reject needs a comment; the error names it.
    page.goto(f"{bob.base}/tasks/{desk.pk}/")
    bob.expected = {400}
    page.get_by_role("button", name="Reject").click()
    page.locator("#e-comment").wait_for()
    assert "required to reject" in page.locator("#e-comment").inner_text()
    # The one comment box is marked invalid, linked to its message, and focused.
    box = page.get_by_label("Comment (required for: Reject)")
    assert box.get_attribute("aria-invalid") == "true"
    assert "e-comment" in box.get_attribute("aria-describedby")
    assert page.evaluate("document.activeElement.name") == "comment"
    page.get_by_label("Comment (required for: Reject)").fill("we have desks")
    page.get_by_role("button", name="Reject").click()
    page.wait_for_url(re.compile(r"/inbox/$"))
    bob.expected = set()
    desk.refresh_from_db()
    assert (desk.status, desk.outcome, desk.data) == ("completed", "reject",
                                                      {"comment": "we have desks"})  # fmt: skip

    # Bulk: tick the other two, approve them together; each row reports.
    page.goto(f"{bob.base}/inbox/?tab=group")
    for task in (lamp, chair):
        page.locator(f"#select-{task.pk}").check()
    page.locator("fieldset.bulk").get_by_role("button", name="Approve").click()
    results = page.locator(".bulk-results li")
    results.first.wait_for()
    assert sorted(results.all_inner_texts()) == sorted(
        [f"Task {lamp.pk}: approve done", f"Task {chair.pk}: approve done"]
    )
    page.locator("#empty").wait_for()  # the list refreshed itself: nothing left
    run.run()
    assert sorted(HumanTask.objects.values_list("outcome", flat=True)) == [
        "approve", "approve", "reject"]  # fmt: skip


def test_an_escalated_task_appears_in_the_alternate_approvers_open_inbox(run, people) -> None:
    desk = start(run, "desk")
    dave = people("dave")  # a director: nothing for him yet
    page = dave.page
    page.locator("#tab-group").click()
    page.locator("#empty").wait_for()
    run.advance(days=2, minutes=1)  # nobody approved: reassigned to the directors
    assert run.escalations(desk.instance) == [(0, "remind"), (1, "reassign")]
    # No reload: the inbox's poll finds the change and shows the row.
    page.locator(f"#task-{desk.pk}").wait_for(timeout=10_000)
    assert "Approve desk for 5000" in page.locator(f"#task-{desk.pk}").inner_text()


def test_no_javascript_claim_and_approve_still_work(run, browser, live_server) -> None:
    desk = start(run, "desk")
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/inbox/?tab=group")
    page.locator(f"#task-{desk.pk}").get_by_role("button", name="Approve").click()
    page.wait_for_url(re.compile(r"/inbox/\?tab=group"))
    assert "You approved “Approve desk for 5000”" in page.content()
    desk.refresh_from_db()
    assert (desk.status, desk.outcome) == ("completed", "approve")
    context.close()
