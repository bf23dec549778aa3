"""CSRF (issue #16, hole 2): pages of another origin drive every state-changing route of a real
`tracker serve` from headless Chromium — auto-submitted forms (also top-level, the issue's
forced logout), `fetch` with `text/plain` and `sendBeacon` — while a signed-in admin's browser
holds a dashboard session and a visitor cookie. Nothing changes: the session still works, no
site, token, promotion, event or erasure appears or goes, no cookie is set or cleared, and
every attacking API request was refused by the cross-site guard (403 in the audit log).

Two attacker origins: `http://evil.localhost:S` (another site) and `http://127.0.0.1:S`
(another origin of the *same site* as the tracker at `http://127.0.0.1:P`: its requests carry
the `SameSite=Lax` cookies, so only the guard and the CSRF tokens stand in the way).

The routes come from the route table: a new state-changing route is attacked without anyone
remembering to add it (with `{}` as its body unless `BODIES` names a better one).
"""

from __future__ import annotations

import json
import re
import time
import uuid

import httpx2 as httpx
import pytest

from tracker.routing import all_routes
from tracker.security import SAFE_METHODS

VICTIM_VID = "csrf-victim-vid"
# Realistic attacking bodies and queries per route (the rest get `{}`).
BODIES = {
    "/api/admin/sites": ("", {"site": "evil-site", "origins": ["http://evil.localhost"]}),
    "/api/admin/tokens": ("", {"role": "admin", "name": "evil-token"}),
    "/api/admin/tokens/{token}": ("", {}),
    "/api/admin/import": ("?site=demo", None),  # JSON lines, see _body
    "/api/admin/seed": ("?site=demo&visitors=3&days=1", {}),
    "/api/admin/promos": ("?site=demo&promo=keep-me", {"site": "demo", "promo_id": "evil-promo", "name": "evil"}),
    "/api/trust/refresh": ("?site=demo", {}),
    "/api/privacy/visitors/{vid:path}": ("?site=demo", {}),
    "/api/collect": ("", {"site": "demo", "events": [{"type": "pageview", "id": "evil-event-1", "url": "http://evil.localhost/x"}]}),
    "/api/forget-me": ("", {}),
    "/api/opt-out": ("", {}),
    "/dashboard/login": ("", None),
    "/dashboard/logout": ("", None),
}
PARAMS = {"token": "keep-this-token", "vid": VICTIM_VID}


def unsafe_routes() -> list[tuple[str, str]]:
    found = []
    for route in all_routes():
        for method in sorted(getattr(route, "methods", None) or ()):
            if method not in SAFE_METHODS:
                found.append((route.path, method))
    return found


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAMS.get(m.group(1), "x"), path)


def _body(path: str) -> str:
    if path == "/api/admin/import":
        return json.dumps({"type": "pageview", "id": "evil-import", "url": "http://127.0.0.1/x", "vid": "evil", "ts": 1767225600000})
    if path.startswith("/dashboard/"):
        return "token=trk_000000000000_" + "x" * 30
    return json.dumps(BODIES.get(path, ("", {}))[1])


def attacks() -> list[dict]:
    return [{"method": m, "url": _concrete(p) + BODIES.get(p, ("", {}))[0], "body": _body(p), "route": p} for p, m in unsafe_routes()]


def _page(tracker: str, items: list[dict]) -> str:
    """Every attack at once: fetch (text/plain, credentials), sendBeacon, and a text/plain form
    into an iframe; `window.done` resolves when all were sent."""
    return f"""<!doctype html><html><body><script>
const T = {json.dumps(tracker)}, attacks = {json.dumps(items)};
function form(a, i) {{
  return new Promise(resolve => {{
    const frame = document.createElement('iframe'); frame.name = 'f' + i; document.body.appendChild(frame);
    frame.onload = () => resolve(); setTimeout(resolve, 3000);
    const f = document.createElement('form'); f.method = 'POST'; f.action = T + a.url; f.target = frame.name;
    f.enctype = 'text/plain';
    const input = document.createElement('input'); input.name = a.body; input.value = ''; f.appendChild(input);
    document.body.appendChild(f); f.submit();
  }});
}}
window.done = (async () => {{
  let i = 0;
  for (const a of attacks) {{
    if (a.method === 'POST') navigator.sendBeacon(T + a.url, a.body);
    try {{
      await fetch(T + a.url, {{method: a.method, mode: a.method === 'POST' ? 'no-cors' : 'cors', credentials: 'include',
                               headers: {{'Content-Type': 'text/plain'}}, body: a.body}});
    }} catch (e) {{}}
    if (a.method === 'POST') await form(a, i++);
  }}
  return true;
}})();
</script></body></html>"""


def _top_level(tracker: str, attack: dict) -> str:
    """The issue's forced logout: a page that auto-submits a top-level form."""
    if attack["url"].startswith("/dashboard/"):
        fields = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in (kv.split("=", 1) for kv in attack["body"].split("&")))
    else:
        fields = f'<input type="hidden" name=\'{attack["body"]}\' value="">'
    enctype = "" if attack["url"].startswith("/dashboard/") else ' enctype="text/plain"'
    return (f'<!doctype html><form method="POST" action="{tracker}{attack["url"]}"{enctype}>{fields}</form>'
            "<script>document.forms[0].submit()</script>")


def _snapshot(server) -> dict:
    tokens = server.api("GET", "/api/admin/tokens").json()["rows"]
    return {
        "sites": server.api("GET", "/api/admin/sites").json()["rows"],
        "tokens": sorted((t["token_id"], t["name"], t["role"], t["revoked_at"]) for t in tokens),
        "promos": server.api("GET", "/api/admin/promos", params={"site": "demo"}).json()["rows"],
        "erasures": server.api("GET", "/api/privacy/erasures").json()["rows"],
        "victim": server.api("GET", f"/api/privacy/visitors/{VICTIM_VID}").json()["counts"],
        "events": server.api("GET", "/api/reports/overview", params={"site": "demo", "traffic": "all", "from": "2025-12-01",
                                                                        "to": "2027-12-31"}).json()["pageviews"],
    }


def _settled(server) -> dict:
    """A snapshot once the spool has flushed (two equal readings)."""
    last = _snapshot(server)
    for _ in range(20):
        time.sleep(0.5)
        now = _snapshot(server)
        if now == last:
            return now
        last = now
    return last


def _cookies(context, tracker_port: int) -> dict[str, str]:
    return {c["name"]: c["value"] for c in context.cookies() if c["domain"] == "127.0.0.1"}


@pytest.fixture
def victim(tracker_server, browser_context):
    """An admin signed in to the dashboard, who also visited the demo shop; a visitor to erase
    and a promotion and token to keep."""
    server, page = tracker_server, browser_context.new_page()
    line = json.dumps({"type": "pageview", "id": uuid.uuid4().hex, "url": "http://127.0.0.1/demo", "vid": VICTIM_VID, "ts": 1767225600000})
    assert server.api("POST", "/api/admin/import", params={"site": "demo"}, content=line).json()["accepted"] == 1
    assert server.api("POST", "/api/admin/promos", json={"site": "demo", "promo_id": "keep-me", "name": "keep"}).status_code == 200
    assert server.api("POST", "/api/admin/tokens", json={"role": "marketer", "name": "keep-this-token"}).status_code == 201
    page.goto(server.url + "/demo")
    page.wait_for_timeout(500)
    page.goto(server.url + "/dashboard/login")
    page.fill("input[name=token]", server.token)
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_url(re.compile(r".*/dashboard(/|\?|$).*"))
    cookies = _cookies(browser_context, server.port)
    assert {"trk_session", "_tid"} <= set(cookies), cookies
    return page


def test_every_state_changing_route_is_attacked():
    routes = {p for p, _ in unsafe_routes()}
    assert {"/dashboard/logout", "/dashboard/login", "/api/admin/tokens", "/api/privacy/visitors/{vid:path}", "/api/opt-out"} <= routes


@pytest.mark.parametrize("attacker_host", ["evil.localhost", "127.0.0.1"])
def test_nothing_changes_from_another_origin(tracker_server, shop, browser_context, victim, attacker_host):
    server, page = tracker_server, victim
    before_cookies = _cookies(browser_context, server.port)
    before = _settled(server)
    started = time.time()
    items = attacks()
    shop.put("all.html", _page(server.url, items))
    page.goto(shop.url("all.html", attacker_host))
    assert page.evaluate("window.done") is True
    for i, attack in enumerate(a for a in items if a["method"] == "POST"):
        shop.put(f"top{i}.html", _top_level(server.url, attack))
        with page.expect_navigation(url=re.compile(re.escape(server.url) + ".*"), timeout=10_000):
            page.goto(shop.url(f"top{i}.html", attacker_host))
    page.wait_for_timeout(700)  # beacons are sent asynchronously; let the spool flush

    assert _settled(server) == before
    assert _cookies(browser_context, server.port) == before_cookies  # not signed out, not opted out, not forgotten
    page.goto(server.url + "/dashboard")
    assert "/dashboard/login" not in page.url, page.url  # the session still works

    audit = server.api("GET", "/api/admin/audit", params={"limit": 10000}).json()["rows"]
    # (a DELETE's CORS preflight is answered 405, so the browser never sends the DELETE)
    attacking = [r for r in audit if not r["token_id"] and r["method"] != "OPTIONS" and r["at"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started - 1))]
    assert attacking, "the attacks reached no audited route"
    assert {r["status"] for r in attacking} == {403}, sorted({(r["route"], r["status"]) for r in attacking})


def test_the_same_requests_without_a_browser_origin_do_work(tracker_server):
    """The guard refuses by origin, not by route: the CLI's way (no Origin) still changes things,
    so the test above can fail."""
    r = httpx.post(tracker_server.url + "/api/admin/sites", json={"site": "from-cli", "origins": []},
                   headers={"Authorization": f"Bearer {tracker_server.token}"})
    assert r.status_code == 201, r.text
    r = httpx.post(tracker_server.url + "/api/admin/sites", json={"site": "from-page", "origins": []},
                   headers={"Authorization": f"Bearer {tracker_server.token}", "Origin": "http://evil.localhost:1"})
    assert r.status_code == 403, r.text
    r = httpx.post(tracker_server.url + "/api/admin/sites", json={"site": "from-own-page", "origins": []},
                   headers={"Authorization": f"Bearer {tracker_server.token}", "Origin": tracker_server.url})
    assert r.status_code == 201, r.text
    r = httpx.post(tracker_server.url + "/dashboard/logout", headers={"Origin": "http://evil.localhost:1"}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
