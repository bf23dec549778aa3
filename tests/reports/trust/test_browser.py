"""A real headless Chromium visit through the snippet ends up flagged `webdriver` (Playwright
drives Chromium, so `navigator.webdriver` is true) and out of trusted traffic."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from tests.support.servers import snippet_tag

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SITE = "shop"


def test_headless_chromium_visit_is_flagged_webdriver(tracker_server, shop, browser_context):
    tracker_server.add_site(SITE, shop.origin())
    shop.put("index.html", f"<!doctype html><html><head>{snippet_tag(tracker_server, SITE)}</head><body><h1>Shop</h1></body></html>")
    page = browser_context.new_page()
    page.goto(shop.url("index.html"))
    page.wait_for_timeout(1600)  # the snippet batches for one second
    page.close()
    today = datetime.now(UTC).date().isoformat()
    q = {"site": SITE, "from": today, "to": today}
    rows: list = []
    for _ in range(50):  # the server's spool flushes within a fraction of a second
        rows = tracker_server.api("GET", "/api/trust/visitors", params=q).json()["rows"]
        if rows:
            break
        time.sleep(0.2)
    assert len(rows) == 1, rows
    visitor = rows[0]
    assert "webdriver" in visitor["reasons"] and visitor["score"] == 0 and visitor["evidence"]["webdriver"]["events"] >= 1
    overview = tracker_server.api("GET", "/api/reports/overview", params=q).json()
    assert overview["visitors"] == 0 and overview["excluded_visitors"] == 1
