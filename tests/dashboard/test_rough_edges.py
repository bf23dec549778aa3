"""The dashboard's rough edges, in headless Chromium against a real server: dates checked where
they are typed, bad filters marked beside their field, "new" instead of a percentage against a
near-empty previous period, one Apply on the funnel, trust pages without a toggle that changed
nothing, the Networks chart showing what it is ranked by, a working snippet copy button, and a
phone layout (390 px) where the login hint, the demo hero's button and the page all fit."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import HUMAN_UA, SITE, page_config, settle
from tests.support.servers import TrackerServer, free_port

pytestmark = pytest.mark.browser


def test_dates_are_checked_where_they_are_typed(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.marketer)
    page.goto(f"{server.url}/dashboard?site={SITE}")
    settle(page)
    before = page.url
    page.select_option("select[name=range]", "custom")
    page.fill("input[name=from]", "2026-03-20")
    page.fill("input[name=to]", "2026-03-01")
    page.click("button:has-text('Apply')")
    expect(page.locator("#error-dates")).to_be_visible()
    assert "start date must not be after the end date" in page.locator("#error-dates").text_content()
    assert page.url == before  # nothing was sent
    assert page.locator("input[name=from]").evaluate("e => !e.validity.valid")
    page.fill("input[name=to]", "2026-03-25")
    expect(page.locator("#error-dates")).to_be_hidden()


def test_a_bad_date_in_the_url_is_marked_not_a_broken_page(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.marketer)
    response = page.goto(f"{server.url}/dashboard/pages?site={SITE}&range=custom&from=2026-03-20&to=2026-03-01&traffic=all")
    assert response.status == 400
    settle(page)
    expect(page.locator("#error-from")).to_be_visible()
    assert page.locator("#filters").count() == 1 and page.locator("#error").count() == 0
    assert page.locator("input[name=traffic][value=all]").is_checked()  # the good filters are kept
    assert "Fix the filter" in page.locator("#pages-table").text_content()
    assert page.problems == []


def test_against_a_tiny_previous_period_figures_are_new(page_for, dashboard_server):
    """One visitor in the previous 7 days, thirty in these: '+2900 %' would mean nothing."""
    server = dashboard_server
    site = f"tiny-{uuid.uuid4().hex[:6]}"
    server.add_site(site, "https://tiny.example")
    now = datetime.now(UTC)
    lines = [{"type": "pageview", "id": uuid.uuid4().hex, "url": "https://tiny.example/", "vid": f"v{i}", "ua": HUMAN_UA, "ip": f"203.0.113.{i + 1}",
              "ts": int((now - timedelta(days=10 if i == 0 else 1, minutes=i)).timestamp() * 1000)} for i in range(31)]
    server.api("POST", f"/api/admin/import?site={site}", content="\n".join(json.dumps(x) for x in lines).encode(),
               headers={"Content-Type": "application/x-ndjson"}).raise_for_status()
    page = page_for(server.marketer)
    page.goto(f"{server.url}/dashboard?site={site}&range=7&traffic=all")
    settle(page)
    change = page.locator('.card[data-metric="visitors"] .card-change').text_content()
    assert change.startswith("new") and "1 visitor" in change and "%" not in change
    assert page.locator('.card[data-metric="revenue"]').count() == 1 and page.locator('.card[data-metric="aov"]').count() == 1


def test_one_apply_on_the_funnel_keeps_the_steps(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.marketer)
    page.goto(f"{server.url}/dashboard/funnel?site={SITE}")
    settle(page)
    assert page.locator("button:has-text('Apply')").count() == 1
    page.select_option("[data-step-type='1']", "promo_click")
    page.fill("[data-step-target='1']", "SUMMER")
    page.click("text=All traffic")  # a filter change applies the edited steps with it
    page.wait_for_url("**traffic=all**")
    settle(page)
    assert page.locator("[data-step-target='1']").input_value() == "SUMMER"
    steps = json.loads(page.evaluate("new URLSearchParams(location.search).get('steps')"))
    assert steps[1] == {"type": "promo_click", "promo": "SUMMER"}
    expected = server.report("reports/funnel", **page_config(page)["params"], steps=json.dumps(steps), window=86400)["steps"]
    shown = [int(v) for v in page.locator("#funnel-table td[data-key=visitors]").evaluate_all("els => els.map(e => e.dataset.value)")]
    assert shown == [s["visitors"] for s in expected]


def test_trust_pages_have_no_traffic_toggle_and_networks_chart_its_ranking(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.fraud)
    page.goto(f"{server.url}/dashboard/trust/networks?site={SITE}")
    settle(page)
    assert page.locator("input[name=traffic]").count() == 0
    assert page.locator("#trust-networks-chart h2").text_content() == "Networks by excluded visitors"
    rows = server.report("trust/networks", **page_config(page)["params"])["rows"]
    values = [r["excluded_visitors"] for r in rows]
    assert values == sorted(values, reverse=True)  # the order the chart draws is the measure's own
    first_column = page.locator("#trust-networks-table thead th").nth(1).text_content()
    assert first_column.lower() == "excluded visitors"
    page.goto(f"{server.url}/dashboard/pages?site={SITE}")
    assert page.locator("input[name=traffic]").count() == 2  # marketing pages keep it: it changes their figures


def test_snippet_copy_button(chromium, dashboard_server):
    server = dashboard_server
    site = f"empty-{uuid.uuid4().hex[:6]}"
    server.add_site(site, "https://empty.example")
    context = chromium.new_context(viewport={"width": 1200, "height": 800})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    page.goto(server.url + "/dashboard/login")
    page.fill("input[name=token]", server.marketer)
    page.click("button[type=submit]")
    page.wait_for_url("**/dashboard")
    page.goto(f"{server.url}/dashboard?site={site}")
    page.click("#copy-snippet")
    expect(page.locator("#copy-status")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#snippet-code").text_content() and f'data-site="{site}"' in copied
    context.close()


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/sources", "/dashboard/now", "/dashboard/trust"])
def test_phone_navigation_is_one_short_strip(page_for, dashboard_server, path):
    server = dashboard_server
    page = page_for(server.fraud, width=390, height=844)
    page.goto(f"{server.url}{path}?site={SITE}")
    settle(page)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    side = page.locator(".side").bounding_box()
    assert side["height"] <= 0.15 * 844, side  # was a quarter of the screen
    assert page.locator(".nav a").count() >= 12  # every page is still reachable (the strip scrolls)


def test_phone_login_card_and_demo_hero_fit(chromium, tmp_path):
    server = TrackerServer(tmp_path / "data", free_port()).start()
    try:
        context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
        page = context.new_page()
        page.goto(server.url + "/dashboard/login")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        hint = page.locator(".login code.cmd")
        assert hint.evaluate("e => e.scrollWidth <= e.clientWidth + 1")  # the command is not cut
        card = page.locator(".login").bounding_box()
        assert card["x"] >= 0 and card["x"] + card["width"] <= 390
        server.api("POST", "/api/admin/promos", json={"site": "demo", "promo_id": "SUMMER", "holdout_pct": 0}).raise_for_status()
        page.goto(server.url + "/demo")
        page.wait_for_selector("#hero[data-variant='exposed']")
        hero = page.locator("#hero").bounding_box()
        button = page.locator("#hero .button").bounding_box()
        assert button["y"] + button["height"] <= hero["y"] + hero["height"] and button["x"] + button["width"] <= hero["x"] + hero["width"]
        context.close()
    finally:
        server.stop()
