"""POST /api/forget-me: a browser erases its own data, identified only by its verified cookie."""

from __future__ import annotations

import uuid

import orjson

from tests.conftest import auth, flush

ORIGIN = "https://shop.example"


def _visit(client, site: str, n: int = 2) -> str:
    events = [{"type": "pageview", "id": uuid.uuid4().hex, "url": f"{ORIGIN}/p{i}"} for i in range(n)]
    r = client.post("/api/collect", content=orjson.dumps({"site": site, "events": events}), headers={"Content-Type": "text/plain", "Origin": ORIGIN})
    assert r.status_code == 202 and r.json()["accepted"] == n
    cookie = client.cookies.get("_tid")
    assert cookie
    return cookie


def _stored(runtime, vid: str) -> int:
    return runtime.storage.scalar("SELECT count() FROM events WHERE vid = {v:String}", {"v": vid})


def test_forget_me_erases_the_cookie_owner_and_clears_the_cookie(visitor, runtime, journeys, new_site):
    site = new_site()
    cookie = _visit(visitor, site, 3)
    vid = runtime.ids.verify(cookie)
    bystander = f"bystander-{uuid.uuid4().hex[:6]}"
    journeys(site, {bystander: [("pageview", "/", 0)]})
    flush(runtime)
    assert _stored(runtime, vid) == 3
    _visit(visitor, site, 1)  # one more, possibly still in the spool when we ask

    r = visitor.post("/api/forget-me", content=orjson.dumps({"vid": bystander}), headers={"Content-Type": "text/plain", "Origin": ORIGIN})
    assert r.status_code == 200, r.text
    assert r.json() == {"forgotten": True, "erased": 4}
    assert r.headers["access-control-allow-origin"] == ORIGIN and r.headers["access-control-allow-credentials"] == "true"
    assert any(h.startswith("_tid=;") and "Max-Age=0" in h for h in r.headers.get_list("set-cookie"))
    assert "_tid" not in visitor.cookies
    flush(runtime)
    assert _stored(runtime, vid) == 0
    assert _stored(runtime, bystander) == 1  # the body's vid is ignored: nobody erases someone else
    ledger = runtime.storage.dicts("SELECT by_token, counts FROM erasures ORDER BY at DESC LIMIT 1")[0]
    assert ledger["by_token"] == "forget-me" and sum(ledger["counts"].values()) == 4


def test_forget_me_without_a_valid_cookie_erases_nothing(visitor, runtime, new_site):
    site = new_site()
    cookie = _visit(visitor, site, 1)
    vid = runtime.ids.verify(cookie)
    flush(runtime)
    visitor.cookies.clear()
    r = visitor.post("/api/forget-me")
    assert r.status_code == 200 and r.json() == {"forgotten": False, "erased": 0}
    forged = vid + "." + cookie.split(".")[1] + ".AAAAAAAAAAAAAAAA"
    visitor.cookies.set("_tid", forged)
    r = visitor.post("/api/forget-me")
    assert r.status_code == 200 and r.json() == {"forgotten": False, "erased": 0}
    assert _stored(runtime, vid) == 1


def test_forget_me_from_an_unregistered_origin_is_refused(visitor, runtime, new_site):
    site = new_site()
    cookie = _visit(visitor, site, 1)
    flush(runtime)
    r = visitor.post("/api/forget-me", headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
    assert _stored(runtime, runtime.ids.verify(cookie)) == 1


def test_after_forget_me_no_report_or_export_shows_the_visitor(visitor, client, runtime, new_site, admin_token):
    site = new_site()
    cookie = _visit(visitor, site, 2)
    vid = runtime.ids.verify(cookie)
    flush(runtime)
    today = runtime.storage.scalar("SELECT toString(toDate(max(ts))) FROM events WHERE vid = {v:String}", {"v": vid})
    params = {"site": site, "from": today, "to": today, "traffic": "all"}
    assert client.get("/api/reports/overview", params=params, headers=auth(admin_token)).json()["visitors"] == 1
    assert visitor.post("/api/forget-me", headers={"Origin": ORIGIN}).json()["forgotten"] is True
    assert client.get("/api/reports/overview", params=params, headers=auth(admin_token)).json()["visitors"] == 0
    assert client.get("/api/reports/pages", params=params, headers=auth(admin_token)).json()["rows"] == []
    export = client.get(f"/api/privacy/visitors/{vid}", headers=auth(admin_token)).json()
    assert sum(export["counts"].values()) == 0


def test_preflight_for_registered_origins_only(client, new_site):
    new_site()
    ok = client.options("/api/forget-me", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert ok.headers.get("access-control-allow-origin") == ORIGIN
    bad = client.options("/api/forget-me", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in bad.headers
