"""The cross-site guard's rule, header by header, on the real app (the browser-driven proof is
tests/security/test_csrf_browser.py)."""

from __future__ import annotations

import uuid

import orjson
import pytest

from tests.conftest import auth


def _add_site(client, admin_token, headers: dict):
    body = {"site": f"g-{uuid.uuid4().hex[:6]}", "origins": []}
    return client.post("/api/admin/sites", json=body, headers={**auth(admin_token), **headers})


@pytest.mark.parametrize(("headers", "status"), [
    ({}, 201),  # the CLI, curl: no browser page behind it
    ({"Sec-Fetch-Site": "same-origin"}, 201),
    ({"Sec-Fetch-Site": "none"}, 201),
    ({"Sec-Fetch-Site": "same-site"}, 403),  # a shop subdomain is another origin
    ({"Sec-Fetch-Site": "cross-site"}, 403),
    ({"Origin": "http://testserver"}, 201),
    ({"Origin": "https://testserver"}, 201),  # behind a TLS proxy
    ({"Origin": "null"}, 403),  # a sandboxed frame, a data: page
    ({"Origin": "http://testserver.evil.example"}, 403),
    ({"Origin": "http://evil.example"}, 403),
    ({"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"}, 403),  # the browser's own word wins
])
def test_state_changing_api_calls(client, admin_token, headers, status):
    r = _add_site(client, admin_token, headers)
    assert r.status_code == status, r.text
    if status == 403:
        assert r.json() == {"error": "cross-site requests may not change anything here"}


def test_reads_are_not_refused(client, admin_token):
    r = client.get("/api/admin/sites", headers={**auth(admin_token), "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 200


def test_visitor_endpoints_take_registered_shop_origins(client, new_site):
    site = new_site("https://shop.example")
    assert client.post("/api/opt-out", headers={"Origin": "https://shop.example", "Sec-Fetch-Site": "cross-site"}).status_code == 200
    assert client.post("/api/opt-out").status_code == 200
    r = client.post("/api/opt-out", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = client.post("/api/forget-me", headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    body = orjson.dumps({"site": site, "events": [{"type": "pageview", "id": uuid.uuid4().hex, "url": "https://shop.example/"}]})
    r = client.post("/api/collect", content=body, headers={"Content-Type": "text/plain", "Origin": "https://evil.example",
                                                           "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 202 and r.json()["accepted"] == 0  # the contract's answer: nothing stored, no oracle


def test_logout_from_elsewhere_clears_nothing(client):
    r = client.post("/dashboard/logout", headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = client.post("/dashboard/logout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303 and "trk_session=;" in r.headers["set-cookie"]
