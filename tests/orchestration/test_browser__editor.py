"""The definition editor in Chromium: a new definition from a template, one
typo shown as one error at its line (live and on save), fixed, published with
a reason, then started and decided in the browser."""

from __future__ import annotations

import re

import pytest

from orchestration.demo import seed
from orchestration.models import ProcessInstance, ProcessVersion
from orchestration.states import VersionStatus
from tests.browser import DESKTOP, Person

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]

WAIT = 15_000


def replace_in_editor(page, old: str, new: str) -> None:
    """Select `old` in the editor and type `new` over it, as a person would."""
    page.evaluate(
        """old => { const v = window.definitionEditor;
                    const at = v.state.doc.toString().indexOf(old);
                    v.dispatch({selection: {anchor: at, head: at + old.length}}); v.focus(); }""",
        old,
    )
    page.keyboard.type(new)


def diagnostics(page) -> list[dict]:
    return page.evaluate("window.definitionDiagnostics()")


def settled(page, count: int) -> list[dict]:
    """The editor's diagnostics once there are `count` of them (its linters run
    after a pause in typing; wait_for_function would need eval, which the
    CSP refuses)."""
    found: list[dict] = []
    for _ in range(WAIT // 100):
        found = diagnostics(page)
        if len(found) == count:
            return found
        page.wait_for_timeout(100)
    raise AssertionError(f"expected {count} diagnostics, have {found}")


def test_a_template_with_a_typo_is_fixed_published_and_decided(browser, live_server) -> None:
    seed.seed_users()
    base = live_server.url
    admin = Person(browser, base, viewport=DESKTOP)
    admin.log_in("admin", r"/instances/")
    page = admin.page
    page.goto(f"{base}/admin/orchestration/processdefinition/")
    page.get_by_role("link", name=re.compile("Add process definition")).click()
    page.get_by_role("link", name="Single approval").click()
    page.locator(".definition-editor .cm-content").wait_for()
    admin.check_page()

    # One typo: the live check marks exactly one error, at its line.
    replace_in_editor(page, "approve: approved", "approve: aproved")
    (live,) = settled(page, 1)
    source = page.evaluate("window.definitionEditor.state.doc.toString()")
    line = next(n for n, text in enumerate(source.splitlines(), 1) if "aproved" in text)
    assert live["line"] == line and "unknown step 'aproved'" in live["message"]
    assert page.locator(".cm-lint-marker-error").count() == 1

    # Saving it anyway: the one error, by its line, and nothing saved.
    page.get_by_role("button", name="Save and continue editing").click()
    errors = page.locator(".errorlist li")
    errors.first.wait_for()
    assert errors.all_inner_texts() == [
        f"line {line}, column {live['column']}: steps.approval.outcomes.approve:"
        " unknown step 'aproved'"
    ]
    assert not ProcessVersion.objects.exists()

    # Fixed: no error left; saved; published with a reason after seeing it.
    replace_in_editor(page, "aproved", "approved")
    settled(page, 0)
    page.get_by_role("button", name="Save and continue editing").click()
    page.wait_for_url(re.compile(r"/processversion/\d+/change/"))
    admin.check_page()
    page.get_by_role("button", name="Publish…").click()
    page.wait_for_url(re.compile(r"/publish/$"))
    admin.check_page()
    page.get_by_label(re.compile("Why publish")).fill("expenses go live")
    page.get_by_role("button", name="Publish v1").click()
    page.wait_for_url(re.compile(r"/change/"))
    version = ProcessVersion.objects.get(definition__key="expense-approval")
    assert version.status == VersionStatus.PUBLISHED

    # Started by a requester and decided by an approver, in the browser.
    alice = Person(browser, base, viewport=DESKTOP)
    alice.log_in("alice", r"/inbox/")
    alice.page.goto(f"{base}/start/expense-approval/")
    alice.page.get_by_label("What was bought").fill("train ticket")
    alice.page.get_by_label("Amount (EUR)").fill("89.5")
    alice.page.get_by_role("button", name="Start").click()
    alice.page.wait_for_url(re.compile(r"/instances/\d+/$"))
    bob = Person(browser, base, viewport=DESKTOP)
    bob.log_in("bob", r"/inbox/")
    bob.page.get_by_role("link", name="Approve train ticket for 89.5").click()
    bob.page.get_by_role("button", name="Approve", exact=True).click()
    bob.page.wait_for_url(re.compile(r"/inbox/"))
    instance = ProcessInstance.objects.get(definition__key="expense-approval")
    assert (instance.status, instance.result) == ("completed", "approved")

    problems = [p for person in (admin, alice, bob) for p in person.problems]
    for person in (admin, alice, bob):
        person.close()
    assert problems == [], "\n".join(problems)


def test_the_editor_speaks_german_to_a_german_admin(browser, live_server) -> None:
    from accounts.models import User

    seed.seed_users()
    User.objects.filter(username="admin").update(language="de")
    admin = Person(browser, live_server.url, viewport=DESKTOP)
    admin.log_in("admin", r"/instances/")
    page = admin.page
    page.goto(f"{live_server.url}/admin/orchestration/processversion/add/?template=single-approval")
    page.locator(".definition-editor .cm-content").wait_for()
    assert "Mit einer Vorlage beginnen" in page.content()
    replace_in_editor(page, "approve: approved", "approve: aproved")
    (live,) = settled(page, 1)
    assert "unbekannter Schritt 'aproved'" in live["message"]
    admin.check_page()
    problems = list(admin.problems)
    admin.close()
    assert problems == [], "\n".join(problems)
