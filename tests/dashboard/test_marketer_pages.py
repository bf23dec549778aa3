"""Sources, Devices and Now in headless Chromium, fed by the real snippet: three shoppers in
their own browsers (a newsletter reader who buys, a visitor from a blog, a phone user typing
the address) visit a shop page on www.shop.localhost that embeds the snippet of a real
`tracker serve`; the dashboard's figures must be what they did (known here, not asked of the
API) and the API's. Clicking a row adds a filter chip that the next page honours."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.dashboard.conftest import page_config, settle
from tests.reports.model import IPHONE_UA
from tests.support.servers import ShopServer, snippet_tag

pytestmark = pytest.mark.browser

DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
SITE = "snippet-shop"


def shop_page(server, title: str) -> str:
    return f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title>{snippet_tag(server, SITE, host='t.shop.localhost')}</head><body><h1>{title}</h1></body></html>"


def visit(chromium, url: str, *, ua: str = DESKTOP_UA, phone: bool = False, then=None) -> None:
    """One shopper in a browser of their own: load `url`, do `then(page)`, leave (pagehide flushes)."""
    context = chromium.new_context(user_agent=ua, viewport={"width": 390, "height": 844} if phone else {"width": 1200, "height": 800}, is_mobile=phone)
    page = context.new_page()
    page.goto(url)
    if then:
        then(page)
    page.wait_for_timeout(1300)  # the snippet batches for a second
    page.close()
    context.close()


def card(page, metric: str) -> float:
    return float(page.locator(f'.card[data-metric="{metric}"] .card-value').get_attribute("data-value"))


def shown(page, panel: str, key: str) -> dict[str, dict[str, str]]:
    rows = page.locator(f"#{panel} tbody tr")
    out = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td")
        values = {cells.nth(j).get_attribute("data-key"): cells.nth(j).get_attribute("data-value") for j in range(cells.count())}
        out[values[key]] = values
    return out


@pytest.fixture(scope="module")
def fed(chromium, dashboard_server, tmp_path_factory):
    shop = ShopServer(tmp_path_factory.mktemp("shop"))
    dashboard_server.add_site(SITE, shop.origin())
    shop.put("landing.html", shop_page(dashboard_server, "Landing"))
    shop.put("blog.html", f"<!doctype html><a id=go href='{shop.url('landing.html')}'>to the shop</a>")
    buy = "tracker('purchase', {id: 'B-1', revenue: 42.5, currency: 'USD'})"
    visit(chromium, shop.url("landing.html") + "?utm_source=Newsletter&utm_medium=email&utm_campaign=march", then=lambda p: p.evaluate(buy))
    visit(chromium, shop.url("blog.html", host="blog.localhost"), then=lambda p: (p.click("#go"), p.wait_for_load_state()))
    visit(chromium, shop.url("landing.html"), ua=IPHONE_UA, phone=True)
    yield shop
    shop.close()


def test_now_shows_the_shoppers_and_refreshes_itself(page_for, dashboard_server, chromium, fed):
    server = dashboard_server
    page = page_for(server.marketer)
    # The snippet runs in Playwright's Chromium, which says navigator.webdriver: trust scoring
    # rightly leaves it out of trusted traffic, so these pages look at all traffic.
    page.goto(f"{server.url}/dashboard/now?site={SITE}&traffic=all")
    settle(page)
    expect(page.locator('.card[data-metric="pageviews"] .card-value')).to_have_attribute("data-value", "3", timeout=15_000)
    assert (card(page, "visitors"), card(page, "orders"), card(page, "revenue")) == (3, 1, 42.5)
    assert shown(page, "live-pages", "path")["/landing.html"]["visitors"] == "3"
    assert page.locator("#live-chart canvas").count() == 1
    # A fourth shopper arrives while the page is open: it refreshes itself, no reload.
    visit(chromium, fed.url("landing.html"))
    expect(page.locator('.card[data-metric="visitors"] .card-value')).to_have_attribute("data-value", "4", timeout=20_000)
    live = server.report("reports/live", site=SITE, traffic="all")
    assert (live["visitors"], live["pageviews"], live["orders"]) == (4, 4, 1)
    assert page.problems == []


def test_sources_and_a_row_click_filters_every_page(page_for, dashboard_server, fed):
    server = dashboard_server
    page = page_for(server.marketer)
    page.goto(f"{server.url}/dashboard/sources?site={SITE}&traffic=all")
    settle(page)
    rows = shown(page, "sources-table", "source")
    assert set(rows) == {"newsletter", "blog.localhost", "(direct)"}
    assert (rows["newsletter"]["orders"], rows["newsletter"]["revenue"], rows["blog.localhost"]["sessions"]) == ("1", "42.5", "1")
    api = {r["source"]: r for r in server.report("reports/sources", **page_config(page)["params"])["rows"]}
    assert {s: int(r["sessions"]) for s, r in rows.items()} == {s: r["sessions"] for s, r in api.items()}

    page.locator("#sources-table tr[data-filter='source:(direct)'] td").nth(1).click()
    page.wait_for_url("**filter=source**")
    settle(page)
    assert page.locator(".filter-chip").count() == 1 and "(direct)" in page.locator(".filter-chip").text_content()
    assert set(shown(page, "sources-table", "source")) == {"(direct)"}
    # The chip travels with the navigation: the overview counts only direct visits.
    page.click("nav a:has-text('Overview')")
    settle(page)
    cfg = page_config(page)
    assert cfg["params"]["filter"] == ["source:(direct)"]
    direct = server.report("reports/overview", **cfg["params"])
    assert card(page, "visitors") == direct["visitors"] == api["(direct)"]["visitors"]
    # Removing the chip brings everyone back.
    page.click(".filter-chip")
    settle(page)
    assert "filter=" not in page.url and page.locator(".filter-chip").count() == 0
    assert page.problems == []


def test_devices_and_time_zone(page_for, dashboard_server, fed):
    server = dashboard_server
    page = page_for(server.marketer)
    page.goto(f"{server.url}/dashboard/devices?site={SITE}&traffic=all")
    settle(page)
    devices = shown(page, "devices-device", "value")
    assert devices["mobile"]["sessions"] == "1" and int(devices["desktop"]["sessions"]) >= 2
    assert "iOS" in shown(page, "devices-os", "value")
    # The browser's time zone is the default (Chromium here runs in the machine's zone).
    browser_tz = page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone")
    assert page.locator("select[name=tz] option").first.text_content() == f"Your browser's ({browser_tz})"
    page.locator("#devices-device tr[data-filter='device:mobile'] a.row-filter").click()
    page.wait_for_url("**filter=device**")
    settle(page)
    assert list(shown(page, "devices-device", "value")) == ["mobile"]
    page.select_option("select[name=tz]", "Asia/Tokyo")
    page.wait_for_url("**tz=Asia**")
    settle(page)
    cfg = page_config(page)
    assert cfg["params"]["tz"] == "Asia/Tokyo" and cfg["params"]["filter"] == ["device:mobile"]
    assert page.problems == []
