"""The access matrix, generated from the route table: every protected API route × every kind of
caller, and every dashboard page × every kind of session, each with the one answer expected.

Callers: no token, a malformed one, a wrong secret, a revoked token, an expired and a revoked
dashboard session, then for every role (`tracker.auth.tokens.ROLES`) a bearer token, a token
of that role limited to *another* site, and a dashboard session. Expected: 401 for no valid
credentials, 403 for a role the route's section does not admit (`tracker.auth.gate`), 404 for
a site-scoped caller naming a site outside its scope (the same answer as for a site that does
not exist), and the route's success status otherwise. No answer to a caller scoped to another
site names the target site's data, and its 404 is word for word the 404 for a site that does
not exist.

A route added later is in the matrix by itself: `test_every_route_is_classified` fails until
the route is public on purpose (`PUBLIC`) or under a protected section, and
`test_every_protected_route_has_an_example` until `EXAMPLES` says how to call it successfully.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import pytest
from starlette.routing import Mount, Route

from tests.conftest import auth, journey_rows
from tracker.auth import sessions as sess
from tracker.auth.gate import roles_for
from tracker.auth.tokens import ROLES
from tracker.dashboard.pages import BY_NAME, PAGES, VISITOR
from tracker.routing import all_routes

# Public on purpose: visitor-facing ingest, the snippet, the demo shop, probes, dashboard login.
PUBLIC = {"/api/collect", "/api/assign", "/api/opt-out", "/api/forget-me", "/snippet.js", "/healthz", "/readyz",
          "/dashboard/login", "/dashboard/logout",
          "/", "/openapi.json", "/api/docs", "/site.css"}  # the start page, its stylesheet and the API's description are public
PUBLIC_PREFIXES = ("/demo", "/dashboard/static", "/static")
ORIGIN = "http://testserver"  # the test client's own origin


def endpoints() -> list[tuple[str, str]]:
    found = []
    for route in all_routes():
        if isinstance(route, Mount):
            found.append((route.path or "/", "GET"))
        elif isinstance(route, Route):
            found.extend((route.path, m) for m in sorted(route.methods or ()) if m not in ("HEAD", "OPTIONS"))
    return found


def _public(path: str) -> bool:
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


PROTECTED = [(p, m) for p, m in endpoints() if roles_for(p) is not None]
DASHBOARD = [(p, m) for p, m in endpoints() if p.startswith("/dashboard") and not _public(p) and p != "/dashboard/{rest:path}"]


# --- how to call each protected route successfully ------------------------------------------------
@dataclass
class Call:
    path: str
    ok: int
    params: dict = field(default_factory=dict)
    json: object = None
    content: bytes | None = None
    site_bound: bool = True  # the call names the target site (a caller scoped elsewhere gets 404)


@dataclass
class World:
    runtime: object
    site: str  # the target site, with data
    vid: str
    marker: str  # a path only the target site's data holds


def _token_to_revoke(w: World) -> str:
    return w.runtime.tokens.create(role="marketer", name=f"mx-victim-{uuid.uuid4().hex[:6]}", sites=[w.site])[1].token_id


def _promo_to_remove(w: World) -> str:
    w.runtime.promos.set(w.site, "mx-gone")
    return "mx-gone"


def _line(w: World) -> bytes:
    return orjson.dumps({"type": "pageview", "id": uuid.uuid4().hex, "url": "https://shop.example/imported", "vid": "mx-imp",
                         "ts": int(time.time() * 1000)})


EXAMPLES: dict[tuple[str, str], Callable[[World], Call]] = {
    ("/api/admin/sites", "GET"): lambda w: Call("/api/admin/sites", 200, site_bound=False),
    ("/api/admin/sites", "POST"): lambda w: Call("/api/admin/sites", 201, json={"site": w.site, "origins": ["https://shop.example"]}),
    ("/api/admin/sites/{site}", "PATCH"): lambda w: Call(f"/api/admin/sites/{w.site}", 200, json={"revenue_ceiling": 0}),
    ("/api/admin/tokens", "GET"): lambda w: Call("/api/admin/tokens", 200, site_bound=False),
    ("/api/admin/tokens", "POST"): lambda w: Call("/api/admin/tokens", 201, json={"role": "marketer", "name": "mx-made", "sites": [w.site]}),
    ("/api/admin/tokens/{token}", "DELETE"): lambda w: Call(f"/api/admin/tokens/{_token_to_revoke(w)}", 200),
    ("/api/admin/import", "POST"): lambda w: Call("/api/admin/import", 200, params={"site": w.site}, content=_line(w)),
    ("/api/admin/seed", "POST"): lambda w: Call("/api/admin/seed", 201, params={"site": w.site, "visitors": "1", "days": "1"}),
    ("/api/admin/audit", "GET"): lambda w: Call("/api/admin/audit", 200, params={"limit": "10000"}, site_bound=False),
    ("/api/admin/promos", "GET"): lambda w: Call("/api/admin/promos", 200, params={"site": w.site}),
    ("/api/admin/promos", "POST"): lambda w: Call("/api/admin/promos", 200, json={"site": w.site, "promo_id": "mx-promo"}),
    ("/api/admin/promos", "DELETE"): lambda w: Call("/api/admin/promos", 200, params={"site": w.site, "promo": _promo_to_remove(w)}),
    ("/api/reports/{name}", "GET"): lambda w: Call("/api/reports/pages", 200, params={"site": w.site, "from": "2026-03-01", "to": "2026-03-03"}),
    ("/api/trust/visitors", "GET"): lambda w: Call("/api/trust/visitors", 200, params={"site": w.site, "max_score": "100", **RANGE}),
    ("/api/trust/visitors/{vid:path}", "GET"): lambda w: Call(f"/api/trust/visitors/{w.vid}", 200, params={"site": w.site, **RANGE}),
    ("/api/trust/promotions", "GET"): lambda w: Call("/api/trust/promotions", 200, params={"site": w.site, **RANGE}),
    ("/api/trust/coupons", "GET"): lambda w: Call("/api/trust/coupons", 200, params={"site": w.site, **RANGE}),
    ("/api/trust/networks", "GET"): lambda w: Call("/api/trust/networks", 200, params={"site": w.site, **RANGE}),
    ("/api/trust/refresh", "POST"): lambda w: Call("/api/trust/refresh", 200, params={"site": w.site}),
    ("/api/privacy/visitors/{vid:path}", "GET"): lambda w: Call(f"/api/privacy/visitors/{w.vid}", 200, params={"site": w.site, **RANGE}),
    ("/api/privacy/visitors/{vid:path}", "DELETE"): lambda w: Call("/api/privacy/visitors/mx-nobody", 200, params={"site": w.site}),
    ("/api/privacy/erasures", "GET"): lambda w: Call("/api/privacy/erasures", 200, site_bound=False),
    ("/api/orders", "POST"): lambda w: Call("/api/orders", 202, json={"site": w.site, "orders": [
        {"id": f"mx-{uuid.uuid4().hex[:6]}", "revenue": 1, "currency": "USD", "status": "paid"}]}),
}
RANGE = {"from": "2026-03-01", "to": "2026-03-03"}  # the journeys' days (tests/conftest.py T0)
# Routes that take no dashboard session (a browser has no business there).
BEARER_ONLY = {"/api/orders"}


# --- callers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict
    role: str | None = None  # None: no valid credentials
    scoped_elsewhere: bool = False
    session: bool = False


def _cookie(runtime, token_id: str, *, age: int = 0) -> tuple[str, str]:
    session = runtime.sessions.new(token_id)
    if age:
        session = sess.Session(session.sid, session.token_id, session.csrf, session.issued - age, session.active - age)
    return runtime.sessions.sign(session), session.csrf


def _session_headers(runtime, token_id: str, age: int = 0) -> dict:
    value, csrf = _cookie(runtime, token_id, age=age)
    return {"Cookie": f"{sess.COOKIE}={value}", "X-CSRF-Token": csrf, "Origin": ORIGIN}


@pytest.fixture(scope="module")
def world(runtime):
    site, elsewhere = f"mx-a-{uuid.uuid4().hex[:6]}", f"mx-b-{uuid.uuid4().hex[:6]}"
    for s in (site, elsewhere):
        runtime.sites.add(s, ["https://shop.example"])
    vid, marker = f"mx-vid-{uuid.uuid4().hex[:6]}", f"/mx-secret-{uuid.uuid4().hex[:6]}"
    runtime.storage.insert_jsonl("events", journey_rows(site, {vid: [("pageview", marker, 0), ("pageview", "/x", 30)]}, runtime=runtime))
    return World(runtime, site, vid, marker), elsewhere


@pytest.fixture(scope="module")
def callers(runtime, world) -> list[Caller]:
    w, elsewhere = world
    unique = uuid.uuid4().hex[:6]
    revoked, revoked_p = runtime.tokens.create(role="admin", name=f"mx-revoked-{unique}")
    runtime.tokens.revoke(revoked_p.token_id)
    good, good_p = runtime.tokens.create(role="admin", name=f"mx-good-{unique}")
    found = [
        Caller("no token", {}),
        Caller("basic auth", {"Authorization": "Basic YWRtaW46YWRtaW4="}),
        Caller("garbage", auth("garbage")),
        Caller("wrong secret", auth(good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"))),
        Caller("revoked", auth(revoked)),
        Caller("expired session", _session_headers(runtime, good_p.token_id, age=sess.IDLE_SECONDS + 60)),
        Caller("revoked token's session", _session_headers(runtime, revoked_p.token_id)),
        Caller("forged session", {"Cookie": f"{sess.COOKIE}=e30.abcdef.forged", "Origin": ORIGIN}),
    ]
    for role in ROLES:
        own = [w.site] if role == "ingest" else None  # an ingest token is always site-scoped
        token, principal = runtime.tokens.create(role=role, name=f"mx-{role}-{unique}", sites=own)
        other, _ = runtime.tokens.create(role=role, name=f"mx-{role}-elsewhere-{unique}", sites=[elsewhere])
        found += [
            Caller(role, auth(token), role),
            Caller(f"{role} scoped elsewhere", auth(other), role, scoped_elsewhere=True),
            Caller(f"{role} session", _session_headers(runtime, principal.token_id), role, session=True),
        ]
    return found


def expected(path: str, caller: Caller, call: Call) -> int:
    if caller.role is None:
        return 401
    if caller.role not in roles_for(path):
        return 403  # the gate's answer, before any handler
    if caller.session and path in BEARER_ONLY:
        return 401
    if caller.scoped_elsewhere and call.site_bound:
        return 404
    return call.ok


def _send(client, method: str, call: Call, headers: dict):
    return client.request(method, call.path, params=call.params, json=call.json, content=call.content, headers=headers)


# --- the tests -----------------------------------------------------------------------------------
def test_every_route_is_classified():
    unclassified = [(p, m) for p, m in endpoints() if not _public(p) and roles_for(p) is None and not p.startswith("/dashboard")]
    assert not unclassified, f"say in tracker/auth/gate.py who may use {unclassified} (or add it to PUBLIC here)"


def test_every_protected_route_has_an_example():
    missing = [pm for pm in PROTECTED if pm not in EXAMPLES]
    assert not missing, f"say in EXAMPLES how to call {missing} successfully"
    assert len(PROTECTED) >= 22 and ROLES[:3] == ("marketer", "fraud", "admin")


@pytest.mark.parametrize(("path", "method"), PROTECTED)
def test_the_matrix(client, world, callers, path, method):
    w, _ = world
    wrong = []
    for caller in callers:
        call = EXAMPLES[(path, method)](w)
        r = _send(client, method, call, caller.headers)
        want = expected(path, caller, call)
        if r.status_code != want:
            wrong.append((caller.name, want, r.status_code, r.text[:160]))
            continue
        if want >= 400:
            assert r.json() == {"error": r.json()["error"]}, (caller.name, r.text)
        if want == 401:
            assert r.headers.get("www-authenticate") == "Bearer", caller.name
        if caller.scoped_elsewhere:
            assert w.vid not in r.text and w.marker not in r.text, (caller.name, r.text[:300])
            if want == 404:  # word for word the answer for a site that does not exist
                ghost = "mx-ghost-site"
                ghost_call = Call(**{**call.__dict__, "path": call.path.replace(w.site, ghost),
                                     "params": {k: (ghost if v == w.site else v) for k, v in call.params.items()},
                                     "json": orjson.loads(orjson.dumps(call.json).replace(w.site.encode(), ghost.encode()))
                                     if call.json is not None else None})
                g = _send(client, method, ghost_call, caller.headers)
                assert (g.status_code, g.text.replace(ghost, "X")) == (404, r.text.replace(w.site, "X")), (caller.name, r.text, g.text)
            else:
                assert w.site not in r.text, (caller.name, r.text[:300])
    assert not wrong, wrong


def _page_roles(path: str) -> frozenset[str]:
    if path.startswith("/dashboard/trust/visitors/"):
        return VISITOR.roles
    page = next((p for p in PAGES if p.path == path), BY_NAME["overview"] if path == "/dashboard/" else None)
    return page.roles


@pytest.mark.parametrize(("path", "method"), DASHBOARD)
def test_dashboard_pages(client, world, callers, path, method):
    w, _ = world
    concrete = path.replace("{vid:path}", w.vid)
    wrong = []
    for caller in callers:
        if "Authorization" in caller.headers:
            continue  # pages take a session, never a bearer header
        headers = {k: v for k, v in caller.headers.items() if k == "Cookie"}
        r = client.request(method, concrete, params={"site": w.site, "range": "30"}, headers=headers, follow_redirects=False)
        if caller.role is None:
            want = 303
        elif caller.role not in _page_roles(path):
            want = 403
        else:
            want = 200
        if r.status_code != want:
            wrong.append((caller.name, want, r.status_code, r.text[:120]))
        if want == 303:
            assert r.headers["location"].startswith("/dashboard/login"), caller.name
    assert not wrong, wrong


@pytest.mark.parametrize(("path", "method"), DASHBOARD)
def test_dashboard_pages_for_a_session_scoped_elsewhere(client, runtime, world, path, method):
    w, elsewhere = world
    token, principal = runtime.tokens.create(role="admin", name=f"mx-dash-elsewhere-{uuid.uuid4().hex[:4]}", sites=[elsewhere])
    value, _ = _cookie(runtime, principal.token_id)
    r = client.request(method, path.replace("{vid:path}", w.vid), params={"site": w.site}, headers={"Cookie": f"{sess.COOKIE}={value}"},
                       follow_redirects=False)
    assert r.status_code == 404, r.text[:300]
    assert w.marker not in r.text and f'value="{w.site}"' not in r.text
    ghost = client.request(method, path.replace("{vid:path}", w.vid), params={"site": "mx-ghost-site"},
                           headers={"Cookie": f"{sess.COOKIE}={value}"}, follow_redirects=False)
    assert (ghost.status_code, ghost.text.replace("mx-ghost-site", "X")) == (404, r.text.replace(w.site, "X"))
