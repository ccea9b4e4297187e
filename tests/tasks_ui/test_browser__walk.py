"""The README's walk in Chromium, as each demo role, on a desktop (1280x800)
and a phone (390x844): every page fits the width, axe-core finds no
violation, and no script error, CSP violation or unexpected error status
occurs (tests/browser.py).

With SCREENSHOTS set to a folder, the walk also saves the inbox, the task page
and the definition editor at both sizes there (docs/screenshots/, shown in the
README: `SCREENSHOTS=docs/screenshots python3 manage.py test -k walk`)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestration import jobs
from orchestration.demo import seed
from orchestration.metrics import fold
from orchestration.models import HumanTask, ProcessInstance, ProcessVersion
from orchestration.testing import ProcessTest
from tests.browser import DESKTOP, PHONE, Person

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]
SIZES = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]
BUDGET = 150 * 1024  # bytes an inbox page may download, uncompressed (docs/ui.md)


@pytest.fixture
def run(transactional_db) -> Iterator[ProcessTest]:
    seed.seed_users()
    with ProcessTest() as running:
        seed.seed_definitions()
        yield running


def shot(page: Any, name: str, size: dict[str, int]) -> None:
    folder = os.environ.get("SCREENSHOTS")
    if folder:
        kind = "phone" if size == PHONE else "desktop"
        page.screenshot(path=str(Path(folder) / f"{name}-{kind}.png"), full_page=size == PHONE)


def visit(person: Person, path: str) -> None:
    person.page.goto(f"{person.base}{path}")
    person.check_page()


@pytest.mark.parametrize("size", SIZES)
def test_each_role_walks_its_pages(run, browser, live_server, size) -> None:
    base = live_server.url
    people: list[Person] = []

    def person(username: str, landing: str) -> Person:
        someone = Person(browser, base, viewport=size)
        people.append(someone)
        someone.log_in(username, landing)
        someone.check_page()
        return someone

    # The requester starts a purchase from the form and lands on its page.
    alice = person("alice", r"/inbox/")
    visit(alice, "/start/")
    visit(alice, "/start/purchase-approval/")
    alice.page.get_by_label("Item").fill("standing desk")
    alice.page.get_by_label("Amount").fill("5000")
    alice.page.get_by_role("button", name="Start").click()
    alice.page.wait_for_url(re.compile(r"/instances/\d+/$"))
    alice.check_page()
    run.run()
    instance = ProcessInstance.objects.get()

    # The approver lands on the group queue that holds it, opens it, is told a
    # reason is needed to reject, gives one, and the process ends.
    bob = person("bob", r"/inbox/")
    assert bob.page.locator("#tab-group[aria-current=page]").count() == 1
    bob.page.locator("#task-list tbody tr").first.wait_for()
    shot(bob.page, "inbox", size)
    # The page budget (docs/ui.md): the inbox with its stylesheet and scripts.
    assert bob.downloaded() <= BUDGET, f"the inbox downloads {bob.downloaded()} bytes"
    task = HumanTask.objects.get(instance=instance)
    visit(bob, f"/tasks/{task.pk}/")
    shot(bob.page, "task", size)
    run.advance(hours=3)  # the approval waited three hours: the report's hot spot
    bob.expected = {400}
    bob.page.get_by_role("button", name="Reject").click()
    bob.page.locator("#e-comment").wait_for()
    bob.check_page()
    bob.expected = set()
    bob.page.get_by_label("Comment (required for: Reject)").fill("we have desks")
    bob.page.get_by_role("button", name="Reject").click()
    bob.page.wait_for_url(re.compile(r"/inbox/"))
    bob.check_page()
    visit(bob, "/inbox/?tab=done")
    visit(bob, "/absences/")
    visit(bob, "/settings/")
    run.run()

    # The operator lands on the instances; the auditor on the audit log. Both
    # read the report: where purchase approvals wait, on the diagram.
    jobs.seal_audit()
    fold.fold_pending()
    otto = person("otto", r"/instances/")
    visit(otto, f"/instances/{instance.pk}/")
    visit(otto, "/reports/")
    visit(otto, "/reports/purchase-approval/?stat=p50")
    heat = otto.page.locator('.heatmap g[data-step="manager_approval"] rect')
    assert heat.get_attribute("fill") == "#b10026"  # the darkest: where they waited
    budget = otto.page.locator('.heatmap g[data-step="check_budget"] rect')
    assert budget.get_attribute("fill") == "#ffffcc"  # the lightest: a moment
    audrey = person("audrey", r"/audit/")
    assert audrey.page.locator("#audit-events").count() == 1
    visit(audrey, "/reports/purchase-approval/")

    # The process admin edits a definition in the admin.
    admin = person("admin", r"/instances/")
    visit(admin, "/admin/")
    version = ProcessVersion.objects.filter(definition__key="purchase-approval").first()
    visit(admin, f"/admin/orchestration/processversion/{version.pk}/change/")
    admin.page.goto(f"{base}/admin/orchestration/processversion/add/"
                    "?template=two-levels-with-escalation")  # fmt: skip
    admin.page.locator(".definition-editor .cm-content").wait_for()
    admin.check_page()
    shot(admin.page, "editor", size)

    problems = [p for someone in people for p in someone.problems]
    for someone in people:
        someone.close()
    assert problems == [], "\n".join(problems)


def test_german_pages_fit_a_phone(run, browser, live_server) -> None:
    """German words are longer: the operator's instance page, an approver's
    inbox and task page at 390 px in a German browser."""
    instance = run.start("purchase-approval", {"item": "Schreibtisch", "amount": 5000},
                         as_="alice")  # fmt: skip
    task = HumanTask.objects.get(instance=instance)
    people = []
    for username, landing, paths in (
        ("otto", r"/instances/", [f"/instances/{instance.pk}/"]),
        ("bob", r"/inbox/", [f"/tasks/{task.pk}/", "/settings/", "/absences/"]),
    ):
        someone = Person(browser, live_server.url, viewport=PHONE, locale="de-DE")
        people.append(someone)
        someone.log_in(username, landing)
        assert someone.page.locator("html[lang=de]").count() == 1
        someone.check_page()
        for path in paths:
            visit(someone, path)
    problems = [p for someone in people for p in someone.problems]
    for someone in people:
        someone.close()
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("size", SIZES)
def test_the_demo_history_on_the_report(run, browser, live_server, size) -> None:
    started = seed.seed_history()  # what `manage.py demo` seeds: three weeks of purchases
    assert 30 <= started <= 80
    otto = Person(browser, live_server.url, viewport=size)
    otto.log_in("otto", r"/instances/")
    visit(otto, "/reports/purchase-approval/")
    page = otto.page
    heat = page.locator('.heatmap g[data-step="manager_approval"] rect')
    assert heat.get_attribute("fill") == "#b10026"  # where purchases wait
    assert page.locator('.heatmap g[data-step="place_order"] rect').get_attribute("fill") == (
        "#ffffcc"
    )
    # Each edge says how often it was taken; every purchase started once.
    assert page.locator(".heatmap").get_by_text(f"{started} times").count() >= 1
    assert int(page.locator("dd.started").inner_text()) == started
    # Some decisions came after the day the definition's sla expects.
    row = page.locator('tr[data-step="manager_approval"]')
    assert int(row.locator("td.late").inner_text()) > 0
    assert page.locator("dd.expected").inner_text() == "3.0 d"
    assert int(page.locator("dd.late").inner_text()) > 0  # and purchases longer than 3 days
    days = page.locator(".days-table tbody tr")
    assert days.count() == 30
    shot(page, "report", size)
    assert otto.problems == [], otto.problems
    otto.close()


@pytest.mark.parametrize("size", SIZES)
def test_a_purged_instance_and_the_erasure_page(run, browser, live_server, size) -> None:
    from orchestration.audit import chain
    from orchestration.retention.removal import remove_instances

    seed.seed_history()
    while chain.seal_pending():
        pass
    for sweep in (jobs.fold_metrics, jobs.send_mail, jobs.fan_out_webhooks):
        sweep()
    instance = ProcessInstance.objects.filter(status="completed").order_by("pk").first()
    remove_instances([instance], rule="retention 30d (definition)", now=instance.ended_at)
    task = HumanTask.objects.filter(instance=instance).first()
    otto = Person(browser, live_server.url, viewport=size)
    otto.log_in("otto", r"/instances/")
    visit(otto, f"/instances/{instance.pk}/")
    note = otto.page.locator("#instance-removed")
    assert "Personal data removed" in note.inner_text()
    assert "retention 30d (definition)" in note.inner_text()
    shot(otto.page, "instance-purged", size)
    if task is not None:
        visit(otto, f"/tasks/{task.pk}/")
        assert "Personal data removed" in otto.page.locator("#removed").inner_text()
    visit(otto, "/admin/orchestration/legalhold/erase/")
    assert otto.page.locator("#erase-form").count() == 1
    shot(otto.page, "erase", size)
    visit(otto, "/admin/orchestration/legalhold/add/")  # placing a hold, then the list of them
    otto.check_page()
    otto.page.fill("#id_instance", str(instance.pk))
    otto.page.fill("#id_reason", "Litigation 2031-17")
    otto.page.click("#place")
    otto.page.wait_for_load_state()
    otto.check_page()
    assert "Litigation 2031-17" in otto.page.locator("#result_list").inner_text()
    shot(otto.page, "legal-holds", size)
    assert otto.problems == [], otto.problems
    otto.close()


@pytest.mark.parametrize("size", SIZES)
def test_sensitive_values_masked_on_the_task_page(run, browser, live_server, size) -> None:
    from tests.orchestration.retention.test_sensitive__engine import IBAN, PAYROLL

    run.publish(PAYROLL)
    instance = run.start("payroll", {"employee": "Kari Nordmann", "iban": IBAN, "salary": 123457})
    (task,) = run.open_tasks(instance)
    bob = Person(browser, live_server.url, viewport=size)
    bob.log_in("bob", r"/inbox/")
    assert "Account •••••• of Kari Nordmann" in bob.page.locator("main").inner_text()
    visit(bob, f"/tasks/{task.pk}/")
    text = bob.page.locator("main").inner_text()
    assert "••••••" in text and IBAN not in text and "123457" not in text
    shot(bob.page, "task-sensitive", size)
    assert bob.problems == [], bob.problems
    bob.close()
