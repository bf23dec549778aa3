"""A real `tracker serve` with a small, known shop history imported through the admin API, and
Debian's headless Chromium (shared by this directory's browser tests)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx2 as httpx
import pytest

from tests.support.servers import TrackerServer, free_port

HUMAN_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
SITE = "shop"
FORMULA_PROMO = "=HYPERLINK(1)"  # must come out of a CSV export as text, not a formula


def shop_history(now: datetime) -> list[dict]:
    """40 people over the last 25 days (so 7 and 30 days differ), a few buying after a promo
    click, and 6 crawlers (so trusted and all traffic differ)."""
    lines: list[dict] = []

    def add(vid, kind, at, path="/", ua=HUMAN_UA, ip="203.0.113.9", **extra):
        lines.append({"type": kind, "id": uuid.uuid4().hex, "url": f"https://shop.example{path}", "vid": vid,
                      "ts": int(at.timestamp() * 1000), "ua": ua, "ip": ip, **extra})

    for i in range(40):
        vid = f"person-{i:02d}"
        t = now - timedelta(days=i % 25, hours=1 + i % 5)
        add(vid, "pageview", t, "/")
        add(vid, "pageview", t + timedelta(seconds=30), f"/products/{i % 4}")
        promo = "SUMMER" if i % 3 else FORMULA_PROMO
        add(vid, "promo_view", t + timedelta(seconds=40), f"/products/{i % 4}", promo={"id": promo, "variant": "holdout" if i % 10 == 0 else "exposed"})
        if i % 2 == 0:
            add(vid, "promo_click", t + timedelta(seconds=45), f"/products/{i % 4}", promo={"id": promo})
            add(vid, "add_to_cart", t + timedelta(seconds=60), "/cart")
        if i % 4 == 0:
            add(vid, "checkout", t + timedelta(seconds=90), "/checkout")
            add(vid, "purchase", t + timedelta(seconds=120), "/thank-you", order={"id": f"o{i}", "revenue": 20 + i, "currency": "USD"})
    for b in range(6):
        for k in range(5):
            add(f"crawler-{b}", "pageview", now - timedelta(days=b + 1, minutes=k), f"/products/{k}", ua=BOT_UA, ip="192.0.2.10")
    return lines


class DashboardServer(TrackerServer):
    def import_history(self) -> None:
        body = "\n".join(json.dumps(x) for x in shop_history(datetime.now(UTC))).encode()
        r = self.api("POST", f"/api/admin/import?site={SITE}", content=body, headers={"Content-Type": "application/x-ndjson"})
        r.raise_for_status()
        assert not r.json()["errors"], r.json()["errors"]

    def new_token(self, role: str) -> str:
        r = self.api("POST", "/api/admin/tokens", json={"role": role, "name": f"dash-{role}-{uuid.uuid4().hex[:6]}"})
        r.raise_for_status()
        return r.json()["token"]

    def report(self, name: str, **params) -> dict:
        r = self.api("GET", f"/api/{name}", params=params)
        r.raise_for_status()
        return r.json()

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=60, **kwargs)


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory):
    server = DashboardServer(tmp_path_factory.mktemp("dash") / "data", free_port()).start()
    try:
        server.import_history()
        server.marketer = server.new_token("marketer")
        server.fraud = server.new_token("fraud")
        yield server
    finally:
        server.stop()


@pytest.fixture
def page_for(chromium, dashboard_server):
    """`page_for(token, width=1280)`: a signed-in page in a fresh browser context; page errors
    (uncaught exceptions, CSP violations) are collected in `page.problems`."""
    contexts = []

    def make(token: str, width: int = 1280, height: int = 800):
        context = chromium.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
        contexts.append(context)
        page = context.new_page()
        page.problems = []
        page.on("pageerror", lambda exc: page.problems.append(str(exc)))
        page.on("console", lambda msg: page.problems.append(msg.text) if msg.type == "error" and "Content Security Policy" in msg.text else None)
        page.goto(dashboard_server.url + "/dashboard/login")
        page.fill("input[name=token]", token)
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard")
        return page

    yield make
    for context in contexts:
        context.close()


def settle(page) -> None:
    """Until every panel has left its loading state (a locator query: the page's CSP forbids
    the eval that `wait_for_function` would need)."""
    from playwright.sync_api import expect

    expect(page.locator(".panel[data-state=loading]")).to_have_count(0, timeout=60_000)


def page_config(page) -> dict:
    return json.loads(page.locator("#page-config").text_content())
