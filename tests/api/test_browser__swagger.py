"""Swagger UI at /api/docs/ in a real browser: it loads its files from this
site (no CDN), renders the operations and breaks no Content-Security-Policy."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_swagger_ui_renders_the_schema(browser, live_server) -> None:
    page = browser.new_page()
    problems: list[str] = []
    hosts: set[str] = set()
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock", timeout=15_000)
    assert page.locator(".opblock").count() >= 20
    assert problems == []
    assert hosts == {live_server.url.split("/")[2]}
    page.close()
