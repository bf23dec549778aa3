"""A site-scoped admin never acts outside its sites, never mints a token wider than itself and
never learns which other sites exist (issue #16, hole 1). Real app, real storage."""

from __future__ import annotations

import uuid

import orjson
import pytest

from tests.conftest import auth


@pytest.fixture
def two_sites(runtime, new_site, journeys):
    """Sites A and B with one visitor who has events on both; an admin token scoped to A."""
    a, b = new_site(), new_site()
    vid = f"both-{uuid.uuid4().hex[:8]}"
    journeys(a, {vid: [("pageview", "/a-page", 0)]})
    journeys(b, {vid: [("pageview", "/b-page", 0), ("pageview", "/b-two", 5)]})
    token, principal = runtime.tokens.create(role="admin", name=f"scoped-{uuid.uuid4().hex[:6]}", sites=[a])
    return {"a": a, "b": b, "vid": vid, "token": token, "principal": principal}


def test_export_without_site_is_limited_to_the_principals_sites(client, two_sites, admin_token):
    s = two_sites
    r = client.get(f"/api/privacy/visitors/{s['vid']}", headers=auth(s["token"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["counts"]["events"] == 1 and {e["site"] for e in body["tables"]["events"]} == {s["a"]}
    assert s["b"] not in r.text and "/b-page" not in r.text
    # The unscoped admin still sees both.
    full = client.get(f"/api/privacy/visitors/{s['vid']}", headers=auth(admin_token)).json()
    assert full["counts"]["events"] == 3
    # Naming the other site: the same 404 as a site that does not exist.
    other = client.get(f"/api/privacy/visitors/{s['vid']}", params={"site": s["b"]}, headers=auth(s["token"]))
    ghost = client.get(f"/api/privacy/visitors/{s['vid']}", params={"site": "no-such-site-x"}, headers=auth(s["token"]))
    assert other.status_code == ghost.status_code == 404
    assert other.json()["error"].replace(s["b"], "X") == ghost.json()["error"].replace("no-such-site-x", "X")


def test_a_scoped_admin_cannot_mint_a_wider_token(client, runtime, two_sites):
    s, headers = two_sites, auth(two_sites["token"])
    for body in ({"role": "admin", "name": "wide", "sites": []}, {"role": "admin", "name": "wide"},
                 {"role": "marketer", "name": "wide", "sites": []}):
        r = client.post("/api/admin/tokens", json=body, headers=headers)
        assert r.status_code == 403, (body, r.text)
    for sites in ([s["b"]], [s["a"], s["b"]], ["no-such-site-x"]):
        r = client.post("/api/admin/tokens", json={"role": "marketer", "name": "other", "sites": sites}, headers=headers)
        assert r.status_code == 404 and "no site" in r.json()["error"], (sites, r.text)
    assert not [t for t in runtime.tokens.list() if t["name"] in ("wide", "other") and t["revoked_at"] is None]
    # Within its scope it works, and the new token is as narrow as asked.
    r = client.post("/api/admin/tokens", json={"role": "marketer", "name": f"mine-{uuid.uuid4().hex[:4]}", "sites": [s["a"]]},
                    headers=headers)
    assert r.status_code == 201 and r.json()["sites"] == [s["a"]], r.text
    made = runtime.tokens.verify(r.json()["token"])
    assert made.sites == (s["a"],)
    assert client.get("/api/reports/overview", params={"site": s["b"]}, headers=auth(r.json()["token"])).status_code == 404


def test_import_seed_and_promos_of_another_site_are_404(client, runtime, two_sites):
    s, headers = two_sites, auth(two_sites["token"])
    line = orjson.dumps({"type": "pageview", "id": uuid.uuid4().hex, "url": "https://shop.example/x", "vid": "imp", "ts": 1767225600000})
    before = runtime.storage.scalar("SELECT count() FROM events WHERE site = {s:String}", {"s": s["b"]})
    r = client.post("/api/admin/import", params={"site": s["b"]}, content=line, headers=headers)
    assert r.status_code == 404, r.text
    r = client.post("/api/admin/import", params={"site": "brand-new-x"}, content=line, headers=headers)
    assert r.status_code == 404, r.text
    assert runtime.sites.get("brand-new-x") is None
    assert client.post("/api/admin/seed", params={"site": s["b"], "visitors": 1}, headers=headers).status_code == 404
    assert client.post("/api/admin/promos", json={"site": s["b"], "promo_id": "p1"}, headers=headers).status_code == 404
    assert client.get("/api/admin/promos", params={"site": s["b"]}, headers=headers).status_code == 404
    assert client.post("/api/admin/sites", json={"site": s["b"], "origins": ["https://evil.example"]}, headers=headers).status_code == 404
    assert runtime.sites.get(s["b"]).origins == ("https://shop.example",)
    assert runtime.storage.scalar("SELECT count() FROM events WHERE site = {s:String}", {"s": s["b"]}) == before
    # Its own site: import works.
    r = client.post("/api/admin/import", params={"site": s["a"]}, content=line, headers=headers)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def test_listings_show_only_the_principals_sites(client, runtime, two_sites, admin_token):
    s, headers = two_sites, auth(two_sites["token"])
    other_token = runtime.tokens.create(role="marketer", name=f"b-only-{uuid.uuid4().hex[:4]}", sites=[s["b"]])[1]
    sites = client.get("/api/admin/sites", headers=headers)
    assert sites.status_code == 200 and [r["site"] for r in sites.json()["rows"]] == [s["a"]]
    tokens = client.get("/api/admin/tokens", headers=headers).json()["rows"]
    assert tokens and all(t["sites"] and set(t["sites"]) <= {s["a"]} for t in tokens)
    assert other_token.token_id not in orjson.dumps(tokens).decode()
    # The unscoped admin's token, the CLI's: never listed to a scoped admin.
    unscoped = runtime.tokens.verify(admin_token)
    assert unscoped.token_id not in orjson.dumps(tokens).decode()
    # Revoking a token of another site (or an unscoped one): the same 404 as for no token.
    for target in (other_token.token_id, unscoped.token_id, "no-such-token"):
        r = client.delete(f"/api/admin/tokens/{target}", headers=headers)
        assert r.status_code == 404, r.text
    assert runtime.tokens.verify(admin_token) is not None
    # The erasure ledger: only its sites.
    client.delete(f"/api/privacy/visitors/{s['vid']}", params={"site": s["b"]}, headers=auth(admin_token))
    ledger = client.get("/api/privacy/erasures", headers=headers).json()["rows"]
    assert all(row["site"] == s["a"] for row in ledger)
    assert s["b"] not in client.get("/api/privacy/erasures", headers=headers).text


def test_the_audit_log_of_a_scoped_admin_names_no_other_site(client, runtime, two_sites, admin_token):
    s, headers = two_sites, auth(two_sites["token"])
    client.get("/api/reports/overview", params={"site": s["b"]}, headers=auth(admin_token))
    client.get("/api/reports/overview", params={"site": s["a"]}, headers=auth(admin_token))
    rows = client.get("/api/admin/audit", params={"limit": 10000}, headers=headers).json()["rows"]
    assert s["b"] not in orjson.dumps(rows).decode()
    assert any(r["site"] == s["a"] for r in rows)
    everything = client.get("/api/admin/audit", params={"limit": 10000}, headers=auth(admin_token)).json()["rows"]
    assert any(r["site"] == s["b"] for r in everything)


def test_every_visitor_table_can_be_limited_to_a_site(storage):
    """Scoped export and erasure filter each visitor table by site; a table holding visitor
    ids without a site (or a row JSON naming it) would hand a scoped admin every site's rows."""
    from tracker.privacy.tables import visitor_tables

    tables = visitor_tables(storage)
    assert {"events", "visitor_signals"} <= {t.name for t in tables}
    assert not [t.name for t in tables if not (t.has_site or t.has_row_json)]
