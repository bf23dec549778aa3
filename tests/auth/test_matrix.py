"""401/403/404 for every protected route and every role, enumerated from the live route table.

A route added later is covered without touching this file when it lives under a known prefix;
a route under a new prefix fails `test_every_route_is_classified` until someone says here who
may use it (or that it is public on purpose).
"""

from __future__ import annotations

import re

import pytest
from starlette.routing import Mount, Route

from tests.conftest import auth
from tracker.auth.roles import ADMIN, ORDERS, REPORTS, TRUST
from tracker.routing import all_routes

# Public on purpose: visitor-facing ingest, the snippet, the demo shop, probes, dashboard login.
PUBLIC_EXACT = {"/api/collect", "/api/assign", "/api/opt-out", "/api/forget-me", "/snippet.js", "/healthz", "/readyz",
                "/openapi.json", "/api/docs", "/site.css"}  # the API's description and the start page's stylesheet are public
PUBLIC_PREFIXES = ("/demo", "/dashboard/login", "/dashboard/static", "/dashboard/assets", "/dashboard/logout", "/static")
# (a page, not an API: the dashboard answers a redirect to its login page, 401 or 404)
# Who may use the API, by path prefix (reports, trust, privacy and admin sections).
POLICY = [
    ("/api/reports/", REPORTS),
    ("/api/trust/", TRUST),
    ("/api/privacy/", ADMIN),
    ("/api/admin/", ADMIN),
    ("/api/orders", ORDERS),
]
# Path parameters: values that reach the handler's role check (a real report name, ...).
PARAM_VALUES = {"name": "overview", "vid": "matrix-nobody", "token": "matrix-no-such-token"}
ROLES = ("marketer", "fraud", "admin")


def _concrete(path: str) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAM_VALUES.get(m.group(1), "x"), path)


def _endpoints() -> list[tuple[str, str]]:
    found = []
    for route in all_routes():
        if isinstance(route, Mount):
            found.append((route.path or "/", "GET"))
        elif isinstance(route, Route):
            found.extend((route.path, m) for m in sorted(route.methods or ()) if m != "HEAD")
    return found


def _is_public(path: str, method: str) -> bool:
    return method == "OPTIONS" or path in PUBLIC_EXACT or path.startswith(PUBLIC_PREFIXES) or path == "/"


def _roles_for(path: str) -> frozenset[str] | None:
    return next((roles for prefix, roles in POLICY if path.startswith(prefix)), None)


PROTECTED_API = [(p, m) for p, m in _endpoints() if not _is_public(p, m) and _roles_for(p) is not None]
DASHBOARD = [(p, m) for p, m in _endpoints() if not _is_public(p, m) and p.startswith("/dashboard") and m == "GET"]


def test_every_route_is_classified():
    unclassified = [(p, m) for p, m in _endpoints() if not _is_public(p, m) and _roles_for(p) is None and not p.startswith("/dashboard")]
    assert not unclassified, f"say in tests/auth/test_matrix.py who may use {unclassified}"


def test_the_matrix_is_not_empty():
    paths = {p for p, _ in PROTECTED_API}
    assert {"/api/reports/{name}", "/api/privacy/visitors/{vid:path}", "/api/admin/tokens", "/api/admin/audit"} <= paths


@pytest.fixture(scope="module")
def bad_tokens(runtime):
    revoked, _ = runtime.tokens.create(role="admin", name="matrix-revoked")
    runtime.tokens.revoke("matrix-revoked")
    good, _ = runtime.tokens.create(role="admin", name="matrix-wrong-secret")
    return {
        "no header": {},
        "not bearer": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "garbage": auth("garbage"),
        "revoked": auth(revoked),
        "wrong secret": auth(good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")),
    }


@pytest.mark.parametrize(("path", "method"), PROTECTED_API)
def test_401_without_a_valid_token(client, bad_tokens, path, method):
    for why, headers in bad_tokens.items():
        r = client.request(method, _concrete(path), params={"site": "matrix-site"}, headers=headers)
        assert r.status_code == 401, (why, r.status_code, r.text)
        assert r.json() == {"error": r.json()["error"]} and r.headers["www-authenticate"] == "Bearer"


@pytest.fixture(scope="module")
def role_tokens(marketer_token, fraud_token, admin_token):
    return {"marketer": marketer_token, "fraud": fraud_token, "admin": admin_token}


@pytest.mark.parametrize(("path", "method"), PROTECTED_API)
def test_403_for_the_wrong_role_and_through_for_the_right_one(client, role_tokens, path, method):
    allowed = _roles_for(path)
    for role in ROLES:
        r = client.request(method, _concrete(path), params={"site": "matrix-site"}, headers=auth(role_tokens[role]))
        if role in allowed:
            assert r.status_code not in (401, 403) and r.status_code < 500, (role, r.status_code, r.text)
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert "error" in r.json()


@pytest.mark.parametrize(("path", "method"), PROTECTED_API)
def test_an_ingest_token_reaches_only_the_orders_endpoint(client, runtime, new_site, path, method):
    """The shop backend's token (always site-scoped) is refused everywhere but /api/orders."""
    site = new_site()
    token, _ = runtime.tokens.create(role="ingest", name="matrix-ingest", sites=[site])
    r = client.request(method, _concrete(path), params={"site": site}, headers=auth(token))
    if "ingest" in _roles_for(path):
        assert r.status_code not in (401, 403) and r.status_code < 500, (r.status_code, r.text)
    else:
        assert r.status_code == 403, (r.status_code, r.text)


SITE_SCOPED = [(p, m) for p, m in PROTECTED_API if p.startswith(("/api/reports/", "/api/trust/", "/api/privacy/visitors"))]


@pytest.mark.parametrize(("path", "method"), SITE_SCOPED)
def test_site_limited_tokens_get_404_for_other_sites(client, runtime, new_site, path, method):
    mine, other = new_site(), new_site()
    for role in sorted(_roles_for(path)):
        token, _ = runtime.tokens.create(role=role, name=f"matrix-{role}-limited", sites=[mine])
        r = client.request(method, _concrete(path), params={"site": other}, headers=auth(token))
        assert r.status_code == 404, (role, r.status_code, r.text)
        assert other not in r.text or "no site" in r.json()["error"]
        r = client.request(method, _concrete(path), params={"site": mine}, headers=auth(token))
        assert r.status_code not in (401, 403, 404) or (r.status_code == 404 and "no site" not in r.text), (role, r.status_code, r.text)


@pytest.mark.parametrize(("path", "method"), DASHBOARD)
def test_dashboard_pages_need_a_login(client, path, method):
    r = client.request(method, _concrete(path), follow_redirects=False)
    assert r.status_code in (302, 303, 307, 401, 403, 404), (r.status_code, r.text[:200])  # never 200


def test_site_limited_admin_must_name_the_site_to_erase(client, runtime, new_site):
    token, _ = runtime.tokens.create(role="admin", name="matrix-admin-one-site", sites=[new_site()])
    r = client.delete("/api/privacy/visitors/somebody", headers=auth(token))
    assert r.status_code == 403 and "site" in r.json()["error"]
