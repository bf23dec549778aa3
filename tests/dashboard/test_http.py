"""Dashboard over HTTP on the real app: login, CSRF, session cookie, expiry, logout, roles,
security headers, and the API accepting the session cookie (and only safely)."""

from __future__ import annotations

import re
import time

import json

import pytest
from starlette.testclient import TestClient

from tracker.auth import sessions as sess
from tracker.ingest.visitor_id import load_keys


@pytest.fixture
def web(app):
    """A browser of its own: the session `client` fixture must never carry our cookies."""
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def login(web, token: str, next_url: str = "/dashboard"):
    page = web.get("/dashboard/login")
    return web.post("/dashboard/login", data={"token": token, "csrf": csrf_of(page.text), "next": next_url}, follow_redirects=False)


def cookie_attrs(response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(name + "="))


def test_pages_need_a_session(web):
    r = web.get("/dashboard/promotions?site=x", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Fpromotions%3Fsite%3Dx"


def test_login_page_headers_and_csrf_cookie(web):
    r = web.get("/dashboard/login")
    assert r.status_code == 200 and "Sign in" in r.text
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    attrs = cookie_attrs(r, sess.LOGIN_CSRF_COOKIE)
    assert "HttpOnly" in attrs and "SameSite=Strict" in attrs and "Path=/dashboard" in attrs
    assert csrf_of(r.text) == web.cookies.get(sess.LOGIN_CSRF_COOKIE)


def test_login_sets_a_signed_httponly_lax_session_cookie(web, marketer_token):
    r = login(web, marketer_token, "/dashboard/pages?range=7")
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/pages?range=7"
    attrs = cookie_attrs(r, sess.COOKIE)
    assert "HttpOnly" in attrs and "SameSite=Lax" in attrs and "Path=/" in attrs and f"Max-Age={sess.IDLE_SECONDS}" in attrs
    assert "Secure" not in attrs  # plain http here; https below
    assert marketer_token.split("_", 2)[2] not in attrs  # the token's secret is never in the cookie
    assert web.get("/dashboard/login", follow_redirects=False).status_code == 303  # already signed in


def test_session_cookie_is_secure_on_https(app, marketer_token):
    with TestClient(app, base_url="https://testserver") as web:
        r = login(web, marketer_token)
        assert r.status_code == 303
        assert "; Secure" in cookie_attrs(r, sess.COOKIE)


@pytest.mark.parametrize("csrf", [None, "", "forged-value-forged-value-123"])
def test_login_without_the_csrf_token_is_refused(web, marketer_token, csrf):
    web.get("/dashboard/login")
    data = {"token": marketer_token}
    if csrf is not None:
        data["csrf"] = csrf
    r = web.post("/dashboard/login", data=data, follow_redirects=False)
    assert r.status_code == 403
    assert "expired" in r.text
    assert not any(h.startswith(sess.COOKIE + "=") for h in r.headers.get_list("set-cookie"))


def test_login_from_another_origin_is_refused(web, marketer_token):
    page = web.get("/dashboard/login")
    r = web.post("/dashboard/login", data={"token": marketer_token, "csrf": csrf_of(page.text)}, headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403


def test_wrong_token_is_a_readable_401(web):
    r = login(web, "trk_000000000000_notavalidsecretnotavalidsecret")
    assert r.status_code == 401
    assert "That token is not valid" in r.text


def test_login_never_redirects_off_the_dashboard(web, marketer_token):
    for target in ("https://evil.example/", "//evil.example/dashboard", "/api/admin/tokens", "/dashboard\\@evil"):
        assert login(web, marketer_token, target).headers["location"] == "/dashboard"
        web.cookies.clear()


def test_hostile_form_bodies_are_4xx(web):
    web.get("/dashboard/login")
    assert web.post("/dashboard/login", content=b"x" * 20000, headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413
    assert web.post("/dashboard/login", content=b"{}", headers={"content-type": "application/json"}).status_code == 415


def test_api_accepts_the_session_for_get_only(web, admin_token, new_site):
    site = new_site()
    assert web.get(f"/api/reports/overview?site={site}").json() == {"error": "a valid bearer token is required"}
    assert web.get(f"/api/reports/overview?site={site}").status_code == 401
    login(web, admin_token)
    r = web.get(f"/api/reports/overview?site={site}")
    assert r.status_code == 200 and r.json()["visitors"] == 0
    # A state-changing call with only the cookie (what a cross-site form could send): 401.
    body = {"site": f"{site}-x", "origins": ["https://x.example"]}
    assert web.post("/api/admin/sites", json=body).status_code == 401
    assert web.post("/api/admin/sites", json=body, headers={"X-CSRF-Token": "nope"}).status_code == 401
    csrf = csrf_of(web.get(f"/dashboard?site={site}").text)
    assert web.post("/api/admin/sites", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201


def test_marketer_sees_no_trust_pages(web, marketer_token, new_site):
    site = new_site()
    login(web, marketer_token)
    page = web.get(f"/dashboard?site={site}")
    assert page.status_code == 200
    assert "/dashboard/trust" not in page.text and "Trust &amp; safety" not in page.text
    for path in ("/dashboard/trust", "/dashboard/trust/coupons", "/dashboard/trust/visitors/abc"):
        r = web.get(f"{path}?site={site}")
        assert r.status_code == 403, path
        assert "Not for your role" in r.text
    assert web.get(f"/api/trust/visitors?site={site}").status_code == 403


def test_fraud_team_sees_both_sections(web, fraud_token, new_site):
    site = new_site()
    login(web, fraud_token)
    page = web.get(f"/dashboard/trust?site={site}")
    assert page.status_code == 200
    assert 'href="/dashboard/trust/coupons?' in page.text and 'href="/dashboard/funnel?' in page.text


def test_site_limited_token_sees_only_its_sites(web, runtime, new_site):
    mine, other = new_site(), new_site()
    token, _ = runtime.tokens.create(role="marketer", name="limited-dash", sites=[mine])
    login(web, token)
    page = web.get("/dashboard")
    assert f'<option value="{mine}" selected>' in page.text and other not in page.text
    assert web.get(f"/dashboard?site={other}").status_code == 404


def test_empty_site_shows_the_snippet_for_that_site(web, marketer_token, new_site, journeys):
    empty, busy = new_site(), new_site()
    journeys(busy, {"v1": [("pageview", "/", 0)]})
    login(web, marketer_token)
    page = web.get(f"/dashboard?site={empty}").text
    assert "No events yet" in page
    assert "Events are accepted from pages on <code>https://shop.example</code>" in page
    assert f'src=&#34;http://testserver/snippet.js&#34; data-site=&#34;{empty}&#34;' in page
    assert "No events yet" not in web.get(f"/dashboard?site={busy}").text


@pytest.mark.parametrize("query, field", [("range=12", "range"), ("range=custom&from=nope", "from"), ("range=custom&from=2026-03-20&to=2026-03-01", "from"),
                                          ("traffic=x", "traffic"), ("tz=Mars/Olympus", "tz"), ("filter=country:fr", "filter")])
def test_bad_filters_are_marked_beside_their_field(web, marketer_token, new_site, query, field):
    """The page stays (its filter bar, navigation and other filters) with the message next to
    the field, and asks for no figure until it is fixed: not a 'Cannot show this page'."""
    site = new_site()
    login(web, marketer_token)
    r = web.get(f"/dashboard?site={site}&{query}")
    assert r.status_code == 400
    assert f'id="error-{field}"' in r.text and 'id="filters"' in r.text and 'id="error"' not in r.text
    assert '"invalid": true' in r.text


def test_a_bad_site_id_is_still_an_error_page(web, marketer_token):
    login(web, marketer_token)
    r = web.get("/dashboard?site=a%20b")
    assert r.status_code == 400 and 'id="error"' in r.text


def test_filters_time_zone_and_chips_are_kept_in_links(web, marketer_token, new_site):
    site = new_site()
    login(web, marketer_token)
    r = web.get(f"/dashboard/sources?site={site}&tz=Europe/Paris&filter=device:mobile&filter=source:Newsletter")
    assert r.status_code == 200
    config = json.loads(r.text.split('id="page-config">', 1)[1].split("</script>", 1)[0])
    assert config["params"]["tz"] == "Europe/Paris" and config["params"]["filter"] == ["device:mobile", "source:newsletter"]
    assert "filter=device%3Amobile&amp;filter=source%3Anewsletter" in r.text  # the navigation keeps both
    assert r.text.count('class="filter-chip"') == 2 and 'name="filter" value="device:mobile"' in r.text
    assert 'name="traffic"' in r.text  # marketing pages keep the traffic toggle (trust pages have none: test_browser)


def test_logout_needs_the_session_csrf_token_then_ends_the_session(web, marketer_token, new_site):
    site = new_site()
    login(web, marketer_token)
    old_cookie = web.cookies.get(sess.COOKIE)
    page = web.get(f"/dashboard?site={site}")
    assert web.post("/dashboard/logout", data={"csrf": "wrong"}, follow_redirects=False).status_code == 403
    assert web.get(f"/dashboard?site={site}", follow_redirects=False).status_code == 200  # still signed in
    r = web.post("/dashboard/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/login?bye=1"
    assert "Max-Age=0" in cookie_attrs(r, sess.COOKIE)
    web.cookies.clear()
    # The old cookie, replayed after logout, opens nothing.
    web.cookies.set(sess.COOKIE, old_cookie)
    assert web.get(f"/dashboard?site={site}", follow_redirects=False).status_code == 303
    assert web.get(f"/api/reports/overview?site={site}").status_code == 401


def test_idle_sessions_expire(web, app, settings, marketer_token, new_site, runtime):
    site = new_site()
    login(web, marketer_token)
    token_id = runtime.sessions.read(web.cookies.get(sess.COOKIE)).token_id
    keys = load_keys(settings.cookie_secret, settings.data_dir.resolve())
    now = time.time()
    old = sess.Sessions(keys, runtime.storage, now=lambda: now - sess.IDLE_SECONDS - 5)
    web.cookies.clear()
    web.cookies.set(sess.COOKIE, old.sign(old.new(token_id)))
    assert web.get(f"/dashboard?site={site}", follow_redirects=False).status_code == 303
    recent = sess.Sessions(keys, runtime.storage, now=lambda: now - sess.IDLE_SECONDS + 120)
    web.cookies.clear()
    web.cookies.set(sess.COOKIE, recent.sign(recent.new(token_id)))
    r = web.get(f"/dashboard?site={site}", follow_redirects=False)
    assert r.status_code == 200
    assert sess.COOKIE in r.headers.get("set-cookie", "")  # activity slides the idle window


def test_tampered_or_foreign_cookies_are_ignored(web, marketer_token, new_site):
    site = new_site()
    login(web, marketer_token)
    good = web.get(f"/dashboard?site={site}")
    assert good.status_code == 200
    cookie = web.cookies.get(sess.COOKIE)
    payload, kid, mac = cookie.split(".")
    forged = sess.Sessions([b"another server's key"], None).sign(sess.Session("s", "t", "c", int(time.time()), int(time.time())))
    for value in (f"{payload}x.{kid}.{mac}", f"{payload}.{kid}.{mac[:-2]}AA", forged, "garbage", "a.b.c"):
        web.cookies.clear()
        web.cookies.set(sess.COOKIE, value)
        assert web.get(f"/dashboard?site={site}", follow_redirects=False).status_code == 303
        assert web.get(f"/api/reports/overview?site={site}").status_code == 401


def test_revoking_the_token_ends_its_sessions(web, runtime, new_site):
    site = new_site()
    token, principal = runtime.tokens.create(role="marketer", name="revoke-dash")
    login(web, token)
    assert web.get(f"/dashboard?site={site}", follow_redirects=False).status_code == 200
    runtime.tokens.revoke(principal.token_id)
    time.sleep(sess.PRINCIPAL_CACHE_SECONDS + 0.2)
    assert web.get(f"/dashboard?site={site}", follow_redirects=False).status_code == 303


def test_pages_render_with_strict_headers_and_local_assets_only(web, admin_token, new_site, journeys):
    site = journeys(new_site(), {"v1": [("pageview", "/", 0)]})
    login(web, admin_token)
    for path in ("/dashboard", "/dashboard/pages", "/dashboard/paths", "/dashboard/funnel", "/dashboard/promotions",
                 "/dashboard/campaigns", "/dashboard/lift", "/dashboard/trust", "/dashboard/trust/promotions",
                 "/dashboard/trust/coupons", "/dashboard/trust/networks", "/dashboard/trust/visitors/v1"):
        r = web.get(f"{path}?site={site}")
        assert r.status_code == 200, path
        assert r.headers["cache-control"] == "no-store"
        assert "unsafe-inline" not in r.headers["content-security-policy"].split("script-src")[1].split(";")[0]
        assert not re.search(r'(src|href)="(https?:)?//', r.text), path  # nothing from another host
        assert '<script type="application/json" id="page-config">' in r.text
    assert web.get("/dashboard/static/chart.umd.min.js").status_code == 200
    assert web.get("/dashboard/nope").status_code == 404


def test_sign_in_attempts_are_rate_limited_per_network(app, runtime, monkeypatch):
    from tracker import ratelimit
    from tracker.ratelimit import Buckets

    monkeypatch.setattr(runtime.rate_limiter, "login", Buckets(0.01, 3))
    with TestClient(app, base_url="http://testserver") as web:
        statuses = [login(web, "trk_000000000000_notavalidsecretnotavalidsecret").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    assert ratelimit.LOGIN_BURST >= 10  # a person mistyping a few times is never locked out


def test_trust_pages_carry_report_filters_without_claiming_them(web, fraud_token, new_site):
    site = new_site()
    login(web, fraud_token)
    r = web.get(f"/dashboard/trust?site={site}&filter=device:mobile")
    assert r.status_code == 200
    assert 'class="filter-chip"' not in r.text and 'name="traffic"' not in r.text  # trust listings ignore both
    assert 'name="filter" value="device:mobile"' in r.text  # kept for the way back to marketing pages
