"""The admin's definition editor in Chromium at 1280 px: the version diff's
right column can be reached (the box scrolls instead of clipping it)."""

from __future__ import annotations

import pytest

from orchestration import services
from orchestration.demo import seed
from tests.browser import Person
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_version_diff_shows_both_columns_at_1280_px(browser, live_server) -> None:
    seed.seed_users()
    first = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    services.version_publish(version=first, actor=None)
    long_line = "description: " + "a very long description that runs far to the right " * 4
    changed = PURCHASE_SOURCE.replace("name: Purchase approval",
                                      f"name: Purchase approval\n{long_line}")  # fmt: skip
    second = services.version_save_draft(source=changed, actor=None).version
    admin = Person(browser, live_server.url)
    page = admin.page
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/admin/orchestration/processversion/{second.pk}/change/")
    box = page.locator(".version-diff")
    box.wait_for()
    sizes = box.evaluate(
        "el => ({overflow: getComputedStyle(el).overflowX, client: el.clientWidth,"
        " scroll: el.scrollWidth, right: el.getBoundingClientRect().right,"
        " viewport: window.innerWidth})"
    )
    # The box stays inside the page, and whatever does not fit scrolls.
    assert sizes["right"] <= sizes["viewport"]
    assert sizes["scroll"] <= sizes["client"] or sizes["overflow"] == "auto"
    box.evaluate("el => el.scrollLeft = el.scrollWidth")
    last = page.locator(".version-diff table.diff td").last
    assert last.is_visible()
    assert "far to the right" in box.inner_text().replace("\xa0", " ")
    if shot := __import__("os").environ.get("SCREENSHOT"):
        page.screenshot(path=shot, full_page=True)
    assert admin.problems == []
    admin.close()
