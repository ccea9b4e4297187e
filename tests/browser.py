"""What the browser tests share: Debian's Chromium driven by Playwright, one
person's session that keeps every script error, CSP violation and unexpected
4xx/5xx as a problem, and the checks every page passes (axe-core, no
horizontal overflow).

`.ci/run` installs Chromium and axe-core (`npm ci` in frontend/) and sets
REQUIRE_BROWSER=1, so that CI fails rather than skips when either is missing."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parent.parent / "frontend/node_modules/axe-core/axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def _missing(what: str) -> None:
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(what)
    pytest.skip(what)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _missing("Chromium is not installed (apt-get install -y chromium)")
    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM calls are synchronous and safe here.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield launched
        launched.close()


class Person:
    """One browser session. Every script error, CSP violation and answer of 400
    or more is kept as a problem, unless the test expects that status (a form
    shown again with its errors answers 400)."""

    def __init__(
        self, browser: Any, base: str, viewport: dict[str, int] | None = None, locale: str = "en-US"
    ) -> None:
        self.context = browser.new_context(
            viewport=viewport or {"width": 1280, "height": 900}, locale=locale
        )
        self.page = self.context.new_page()
        self.base = base
        self.problems: list[str] = []
        self.expected: set[int] = set()
        self.in_axe = False
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        # Chrome also logs every 4xx/5xx as "Failed to load resource"; those
        # are judged by their status in _response.
        if self.in_axe and "Applying inline style violates" in message.text:
            return  # axe-core's own probes on pages with jQuery (the admin), not the page's
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"{self.page.url.removeprefix(self.base)}: {message.text}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.expected:
            self.problems.append(f"{response.status} {response.request.method} {response.url}")

    def log_in(self, username: str, landing: str = r"/inbox/") -> None:
        self.page.goto(f"{self.base}/accounts/login/")
        self.page.locator("#id_username").fill(username)  # by id: any language
        self.page.locator("#id_password").fill("demo")
        self.page.locator("form button[type=submit]").last.click()
        self.page.wait_for_load_state()
        where = self.page.url.removeprefix(self.base)
        assert re.fullmatch(landing, where.split("?")[0]), f"{username} landed on {where}"

    def check_page(self) -> None:
        """The page fits the viewport's width and axe-core finds nothing; any
        finding is kept as a problem naming the page."""
        where = self.page.url.removeprefix(self.base)
        width = self.page.evaluate("document.documentElement.scrollWidth")
        viewport = self.page.viewport_size["width"]
        if width > viewport:
            wide = self.page.evaluate(_WIDEST)
            self.problems.append(f"{where} at {viewport} px is {width} px wide ({wide})")
        self.in_axe = True
        try:
            found = axe(self.page)
            self.page.evaluate("new Promise(done => setTimeout(done, 0))")  # its console, delivered
        finally:
            self.in_axe = False
        for violation in found:
            self.problems.append(f"{where} at {viewport} px: axe {violation}")

    def downloaded(self) -> int:
        """Bytes the current page needs on a first visit: its document and every
        resource, uncompressed (resources the browser had cached from an
        earlier page are fetched again to be counted)."""
        entries = self.page.evaluate(
            "performance.getEntriesByType('navigation').concat("
            "performance.getEntriesByType('resource')).map(e => [e.name, e.decodedBodySize])"
        )
        return sum(size or len(self.context.request.get(url).body()) for url, size in entries)

    def close(self) -> None:
        self.context.close()


# The element that sticks out furthest, to say what overflows.
_WIDEST = """() => { let worst = null, right = 0;
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect().right;
    if (r > right) { right = r; worst = el; } }
  if (!worst) return '';
  const cls = typeof worst.className === 'string' && worst.className ? '.' + worst.className : '';
  return worst.tagName.toLowerCase() + (worst.id ? '#' + worst.id : '') + cls; }"""


def axe(page: Any) -> list[str]:
    """axe-core's violations on the page (WCAG 2.1 A and AA and best practices)."""
    if not AXE.exists():
        _missing("axe-core is not installed (npm ci --prefix frontend)")
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text() + "\n;0")
    found = page.evaluate(
        "axe.run(document).then(r => r.violations.map(v => v.id + ' (' + v.impact + '): '"
        " + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))"
    )
    return list(found)
