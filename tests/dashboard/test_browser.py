"""The dashboard in headless Chromium against a real server: the figures on screen are the API's
for the chosen range and traffic, the funnel builder works, CSV exports match the API (with
formula cells defused), roles are enforced, logout ends the session, phones get a usable page."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.servers import TrackerServer, free_port
from tests.dashboard.conftest import FORMULA_PROMO, SITE, page_config, settle

pytestmark = pytest.mark.browser


def cards(page) -> dict[str, float]:
    return {m: float(page.locator(f'.card[data-metric="{m}"] .card-value').get_attribute("data-value")) for m in ("visitors", "sessions", "pageviews", "bounce_rate", "avg_session_seconds")}


def api_cards(server, cfg: dict) -> dict[str, float]:
    body = server.report("reports/overview", **cfg["params"])
    return {k: float(body[k]) for k in ("visitors", "sessions", "pageviews", "bounce_rate", "avg_session_seconds")}


def test_overview_follows_the_date_range_and_traffic_toggle(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.marketer)
    page.goto(f"{server.url}/dashboard?site={SITE}")
    settle(page)
    cfg = page_config(page)
    assert cfg["params"]["traffic"] == "trusted" and cfg["params"]["site"] == SITE
    thirty = cards(page)
    assert thirty == api_cards(server, cfg)
    assert thirty["visitors"] == 40  # the crawlers are left out
    rows = page.locator("#timeseries-table tbody tr")
    assert rows.count() == 30
    assert page.locator("#timeseries-chart canvas").count() == 1

    page.select_option("select[name=range]", "7")
    page.wait_for_url("**range=7**")
    settle(page)
    cfg7 = page_config(page)
    assert cfg7["params"]["from"] > cfg["params"]["from"]
    seven = cards(page)
    assert seven == api_cards(server, cfg7)
    assert seven["visitors"] < thirty["visitors"]

    excluded = server.report("reports/overview", **cfg7["params"])["excluded_visitors"]
    assert excluded > 0
    expect(page.locator("#excluded[data-value]")).to_have_count(1)
    assert page.locator("#excluded").get_attribute("data-value") == str(excluded)
    assert f"{excluded} visitor" in page.locator("#excluded").text_content()
    as_of = page.locator("#excluded [data-trust-as-of]")  # when trust was last evaluated, beside the count
    expect(as_of).to_have_count(1)
    assert as_of.get_attribute("data-trust-as-of").endswith("Z") and "trust as of" in as_of.text_content()

    page.click("text=All traffic")
    page.wait_for_url("**traffic=all**")
    settle(page)
    cfg_all = page_config(page)
    assert cfg_all["params"]["traffic"] == "all"
    everyone = cards(page)
    assert everyone == api_cards(server, cfg_all)
    assert everyone["visitors"] == seven["visitors"] + excluded

    page.select_option("select[name=range]", "custom")
    page.fill("input[name=from]", cfg["params"]["from"])
    page.fill("input[name=to]", cfg7["params"]["from"])
    page.click("button:has-text('Apply')")
    page.wait_for_url("**range=custom**")
    settle(page)
    custom = page_config(page)["params"]
    assert (custom["from"], custom["to"]) == (cfg["params"]["from"], cfg7["params"]["from"])
    assert cards(page) == api_cards(server, page_config(page))
    assert page.problems == []


def test_build_a_funnel(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.marketer)
    page.goto(f"{server.url}/dashboard/funnel?site={SITE}")
    settle(page)
    assert page.locator("#funnel-steps li").count() == 4  # the default funnel ran at once
    # Make it: home page -> click on SUMMER -> add to cart -> purchase.
    page.select_option("[data-step-type='1']", "promo_click")
    page.fill("[data-step-target='1']", "SUMMER")
    page.select_option("[data-step-type='2']", "add_to_cart")
    page.select_option("[data-step-type='3']", "purchase")
    page.select_option("#funnel-window", "3600")
    page.click("#funnel-run")
    page.wait_for_url("**SUMMER**")
    settle(page)
    steps = [{"type": "pageview", "path": "/"}, {"type": "promo_click", "promo": "SUMMER"}, {"type": "add_to_cart"}, {"type": "purchase"}]
    cfg = page_config(page)
    expected = server.report("reports/funnel", **cfg["params"], steps=json.dumps(steps), window=3600)["steps"]
    shown = [int(v) for v in page.locator("#funnel-table td[data-key=visitors]").evaluate_all("els => els.map(e => e.dataset.value)")]
    assert shown == [s["visitors"] for s in expected]
    assert shown[0] > shown[1] > 0 and shown[-1] > 0
    assert page.locator("#funnel-chart canvas").count() == 1
    # The funnel is in the URL: reloading shows the same steps.
    page.reload()
    settle(page)
    assert page.locator("[data-step-target='1']").input_value() == "SUMMER"
    assert page.problems == []


def test_csv_export_is_the_api_rows_with_formulas_defused(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.marketer)
    page.goto(f"{server.url}/dashboard/promotions?site={SITE}&model=linear")
    settle(page)
    with page.expect_download() as info:
        page.click("#promotions-table [data-csv]")
    download = info.value
    assert download.suggested_filename.startswith(f"promotions-{SITE}-") and download.suggested_filename.endswith(".csv")
    exported = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    api_rows = server.report("reports/promotions", **page_config(page)["params"], model="linear")["rows"]
    assert len(exported) == len(api_rows) >= 2
    by_id = {r["promo_id"]: r for r in exported}
    assert "'" + FORMULA_PROMO in by_id and FORMULA_PROMO not in by_id  # =... became '=... (text)
    for row in api_rows:
        got = by_id[("'" + row["promo_id"]) if row["promo_id"][0] in "=+-@" else row["promo_id"]]
        for key in ("impressions", "viewers", "clicks", "ctr", "conversions", "revenue", "attributed_conversions", "attributed_revenue"):
            assert float(got[key]) == pytest.approx(float(row[key])), key
    # The table shows the escaped id as plain text too (no markup injection).
    assert page.locator("#promotions-table a", has_text=FORMULA_PROMO).count() == 1


def test_marketer_cannot_open_trust_pages_and_logout_works(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.marketer)
    page.goto(f"{server.url}/dashboard?site={SITE}")
    assert page.locator("nav a[href^='/dashboard/trust']").count() == 0
    response = page.goto(f"{server.url}/dashboard/trust?site={SITE}")
    assert response.status == 403
    assert page.locator("#error h1").text_content() == "Not for your role"
    page.goto(f"{server.url}/dashboard?site={SITE}")
    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/dashboard/login?bye=1")
    assert "You are signed out" in page.content()
    page.goto(f"{server.url}/dashboard/pages?site={SITE}")
    assert "/dashboard/login" in page.url
    assert page.request.get(f"{server.url}/api/reports/overview?site={SITE}").status == 401


def test_fraud_team_pages_render_without_script_errors(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.fraud)
    for path in ("/dashboard/trust", "/dashboard/trust/promotions", "/dashboard/trust/coupons", "/dashboard/trust/networks", "/dashboard/lift", "/dashboard/campaigns", "/dashboard/paths", "/dashboard/pages"):
        response = page.goto(f"{server.url}{path}?site={SITE}")
        assert response.status == 200, path
        settle(page)
        states = page.locator(".panel").evaluate_all("els => els.map(e => e.dataset.state)")
        assert states and all(s in ("ready", "empty") for s in states), (path, states)
    assert page.problems == []


def test_trust_visitors_reason_filter_and_drill_down(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.fraud)
    page.goto(f"{server.url}/dashboard/trust?site={SITE}")
    settle(page)
    params = page_config(page)["params"]
    listed = server.report("trust/visitors", **params, limit=100, offset=0)
    assert listed["total"] >= 6  # the crawlers
    shown = page.locator("#visitors-table td[data-key=vid]").evaluate_all("els => els.map(e => e.dataset.value)")
    assert shown == [r["vid"] for r in listed["rows"]]

    page.select_option("#reason-filter", "bot_user_agent")
    page.wait_for_url("**reason=bot_user_agent**")
    settle(page)
    bots = server.report("trust/visitors", **params, limit=100, offset=0, reason="bot_user_agent")
    shown = page.locator("#visitors-table td[data-key=vid]").evaluate_all("els => els.map(e => e.dataset.value)")
    assert shown == [r["vid"] for r in bots["rows"]] and sorted(shown) == [f"crawler-{b}" for b in range(6)]

    page.locator("#visitors-table td[data-key=vid] a").first.click()
    page.wait_for_url("**/dashboard/trust/visitors/crawler-*")
    settle(page)
    vid = page.url.split("/dashboard/trust/visitors/")[1].split("?")[0]
    one = server.report(f"trust/visitors/{vid}", **params)
    assert page.locator("#visitor-summary .card-value").first.get_attribute("data-value") == str(one["score"])
    assert page.locator("#visitor-timeline tbody tr").count() == len(one["timeline"]) == 5
    assert "bot_user_agent" in page.locator("#visitor-summary").text_content()
    assert page.problems == []


def test_phone_layout_has_no_sideways_scrolling(page_for, dashboard_server):
    server = dashboard_server
    page = page_for(server.marketer, width=390, height=844)
    for path in ("/dashboard", "/dashboard/funnel", "/dashboard/promotions"):
        page.goto(f"{server.url}{path}?site={SITE}")
        settle(page)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), path


@pytest.mark.slow
def test_fresh_serve_demo_shows_full_charts_at_once(chromium, tmp_path):
    """`tracker serve --demo` on an empty data dir: sign in with the printed admin token and
    the overview of the seeded `demo` site is full, with no snippet notice."""
    server = TrackerServer(tmp_path / "data", free_port(), env={"TRACKER_DEMO": "1"}).start()
    try:
        first_admin = [line.strip() for line in server.log.read_text().splitlines() if line.strip().startswith("trk_")][0]
        context = chromium.new_context(viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(server.url + "/dashboard")
        assert "/dashboard/login" in page.url
        page.fill("input[name=token]", first_admin)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard")
        settle(page)
        assert page_config(page)["params"]["site"] == "demo"
        assert page.locator("#no-events").count() == 0
        assert float(page.locator('.card[data-metric="visitors"] .card-value').get_attribute("data-value")) > 100
        assert page.locator("#timeseries-chart canvas").count() == 1
        context.close()
    finally:
        server.stop()
