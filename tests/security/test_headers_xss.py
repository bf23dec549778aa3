"""Security headers on every route, and stored values that can never run (issue #16).

Headers: every route of the route table (and an unknown path) answered to an anonymous caller
and to a signed-in admin carries `nosniff`, a referrer policy, and a CSP with
`frame-ancestors 'none'`; an HTML answer's `script-src` has no `'unsafe-inline'`.

Hostile values: sent through the real `/api/collect` of a `tracker serve` (paths, UTM tags,
promotion ids and names, order ids, coupons, custom event names, the user agent), then every
dashboard page is rendered in headless Chromium by an admin: no script runs (no dialog, no CSP
violation — which would mean the markup was injected and only the CSP stopped it), the values
are shown as text, and every CSV export defuses cells that a spreadsheet would run as formulas.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from pathlib import Path

import orjson
import pytest
from playwright.sync_api import expect

from tests.auth.test_matrix import endpoints
from tests.conftest import auth
from tracker.auth import sessions as sess
from tracker.dashboard.pages import PAGES

pytestmark = pytest.mark.browser

FORMULA = re.compile(r"^[=+\-@\t\r]")


def _csp(r) -> dict[str, str]:
    policy = r.headers.get("content-security-policy", "")
    return {d.split(" ", 1)[0]: d.split(" ", 1)[1] if " " in d else "" for d in (x.strip() for x in policy.split(";")) if d}


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", "x", path)


def test_security_headers_on_every_route(client, runtime, admin_token):
    principal = runtime.tokens.verify(admin_token)
    cookie = runtime.sessions.sign(runtime.sessions.new(principal.token_id))
    checked = 0
    for path, method in [*endpoints(), ("/no/such/page", "GET"), ("/api/no-such-api", "GET")]:
        for headers in ({}, {"Cookie": f"{sess.COOKIE}={cookie}"}, auth(admin_token)):
            r = client.request(method, _concrete(path), headers=headers, follow_redirects=False)
            where = (method, path, r.status_code)
            assert r.status_code < 500, where
            assert r.headers.get("x-content-type-options") == "nosniff", where
            assert r.headers.get("referrer-policy") in ("strict-origin-when-cross-origin", "no-referrer", "same-origin"), where
            kind = r.headers.get("content-type", "")
            if kind.startswith(("text/html", "application/json")):
                csp = _csp(r)
                assert csp.get("frame-ancestors") == "'none'", (where, csp)
                if kind.startswith("text/html"):
                    assert "'unsafe-inline'" not in csp.get("script-src", csp.get("default-src", "")), (where, csp)
                    assert "script-src" in csp or csp.get("default-src") in ("'none'", "'self'"), (where, csp)
            checked += 1
    assert checked == 3 * (len(endpoints()) + 2) and checked > 150


HOSTILE_PATH = "/<script>alert('path')</script>"
HOSTILE = {
    "utm": "<img src=x onerror=alert('utm')>",
    "campaign": "\"><svg onload=alert('campaign')>",
    "promo": "<img src=x onerror=alert('promo')>",
    "promo_name": "=HYPERLINK(\"http://evil.example\",\"click\")",
    "order": "=cmd|'/C calc'!A0",
    "coupon": "@SUM(1+1)",
    "custom": "<script>alert('custom')</script>",
    "plus": "+1+1",
    "minus": "-2+3",
    "ua": "Mozilla/5.0 <img src=x onerror=alert('ua')> HeadlessChrome/1",
}


def _events(site: str) -> list[dict]:
    url = f"http://127.0.0.1/{HOSTILE_PATH[1:]}?utm_source={HOSTILE['utm']}&utm_medium={HOSTILE['plus']}&utm_campaign={HOSTILE['campaign']}"
    base = {"url": url, "ref": "http://ref.example/?q=" + HOSTILE["minus"]}
    return [
        {"type": "pageview", "id": uuid.uuid4().hex, **base},
        {"type": "promo_view", "id": uuid.uuid4().hex, **base, "promo": {"id": HOSTILE["promo"], "name": HOSTILE["promo_name"]}},
        {"type": "promo_click", "id": uuid.uuid4().hex, **base, "promo": {"id": HOSTILE["promo"], "name": HOSTILE["promo_name"]}},
        {"type": "custom", "id": uuid.uuid4().hex, **base, "name": HOSTILE["custom"]},
        {"type": "purchase", "id": uuid.uuid4().hex, **base, "order": {"id": HOSTILE["order"], "revenue": 12.5, "currency": "USD",
                                                                       "coupon": HOSTILE["coupon"]}},
        {"type": "purchase", "id": uuid.uuid4().hex, **base, "order": {"id": HOSTILE["minus"], "revenue": 3, "coupon": HOSTILE["plus"]}},
    ]


def test_stored_values_never_run_in_the_dashboard_or_csv(tracker_server, chromium, tmp_path):
    import httpx2 as httpx

    server, site = tracker_server, "xss"
    server.add_site(site, server.url)
    for i in range(3):  # a few visitors (own cookies), so every report has rows
        r = httpx.post(server.url + "/api/collect", content=orjson.dumps({"site": site, "events": _events(site)}),
                       headers={"Content-Type": "text/plain", "User-Agent": HOSTILE["ua"]})
        assert r.status_code == 202 and r.json()["accepted"] == 6, r.text
    stored = server.api("GET", "/api/reports/pages", params={"site": site, "traffic": "all"})
    deadline = time.monotonic() + 20
    while HOSTILE_PATH not in stored.text and time.monotonic() < deadline:
        time.sleep(0.3)
        stored = server.api("GET", "/api/reports/pages", params={"site": site, "traffic": "all"})
    assert HOSTILE_PATH in stored.json()["rows"][0]["path"], stored.text  # stored as sent: escaping is the page's job

    context = chromium.new_context(accept_downloads=True)
    page = context.new_page()
    ran, problems = [], []
    page.on("dialog", lambda d: (ran.append(d.message), d.dismiss()))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(server.url + "/dashboard/login")
    page.fill("input[name=token]", server.token)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard(/|\?|$).*"))

    shown, cells = "", []
    pages = [p.path for p in PAGES] + ["/dashboard/trust/visitors/x"]
    for path in pages:
        page.goto(f"{server.url}{path}?site={site}&range=7&traffic=all")
        expect(page.locator(".panel[data-state=loading]")).to_have_count(0, timeout=60_000)
        shown += page.locator("body").inner_text()
        for i in range(page.locator("[data-csv]").count()):
            with page.expect_download() as info:
                page.locator("[data-csv]").nth(i).click()
            text = Path(info.value.path()).read_text(encoding="utf-8")
            cells += [(path, cell) for row in csv.reader(io.StringIO(text)) for cell in row]
    context.close()

    assert not ran, ran
    assert not problems, problems
    # Shown as text: the markup is on the screen, not in the DOM.
    assert HOSTILE_PATH in shown and HOSTILE["promo"] in shown
    # No CSV cell a spreadsheet would evaluate, and the hostile ones are there, defused.
    assert cells, "no CSV was exported"
    live = [(p, c) for p, c in cells if FORMULA.match(c) and not re.fullmatch(r"-?\d+(\.\d+)?(e-?\d+)?", c)]
    assert not live, live
    assert any(c == "'" + HOSTILE["promo_name"] for _, c in cells), sorted({c for _, c in cells if "HYPERLINK" in c})
