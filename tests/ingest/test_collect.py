"""POST /api/collect over HTTP against the real app and real chDB: statuses, the JSON error
shape, CORS, the visitor cookie, opt-out, enrichment and what ends up stored."""

from __future__ import annotations

import re
import uuid

import orjson
import pytest
from starlette.testclient import TestClient

from tests.conftest import BOT_UA, BROWSER_UA, flush
from tracker.app import create_app
from tracker.ingest.visitor_id import COOKIE_MAX_AGE

TEXT = {"Content-Type": "text/plain;charset=UTF-8"}


def event(**fields) -> dict:
    return {"type": "pageview", "id": uuid.uuid4().hex, "url": "https://shop.example/", **fields}


def post(client, site, events, headers=None, **kwargs):
    return client.post("/api/collect", content=orjson.dumps({"site": site, "events": events}), headers={**TEXT, **(headers or {})}, **kwargs)


def stored(runtime, site, columns="*"):
    flush(runtime)
    return runtime.storage.dicts(f"SELECT {columns} FROM events FINAL WHERE site = {{s:String}} ORDER BY ts, event_id", {"s": site})


@pytest.fixture
def fresh(app):
    """A client with its own cookie jar, for cookie and identity tests."""
    with TestClient(app, base_url="http://testserver", client=("203.0.113.77", 40000)) as c:
        yield c


def test_mixed_batch_keeps_good_events(client, runtime, new_site):
    site = new_site()
    good = [event(), event(type="custom", name="signup")]
    r = post(client, site, [good[0], {"type": "pageview"}, good[1], "junk"])
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 2
    assert [x["index"] for x in body["rejected"]] == [1, 3]
    assert all(isinstance(x["error"], str) and x["error"] for x in body["rejected"])
    assert sorted(r["event_id"] for r in stored(runtime, site, "event_id")) == sorted(e["id"] for e in good)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/json; charset=utf-8"])
def test_accepted_content_types(client, new_site, content_type):
    r = client.post("/api/collect", content=orjson.dumps({"site": new_site(), "events": [event()]}), headers={"Content-Type": content_type})
    assert r.status_code == 202


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/html", None])
def test_other_content_types_are_415(client, new_site, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    r = client.post("/api/collect", content=orjson.dumps({"site": new_site(), "events": [event()]}), headers=headers)
    assert r.status_code == 415 and r.headers["content-type"] == "application/json"
    assert set(r.json()) == {"error"}


def test_body_over_64k_is_413_by_header_and_by_stream(client, new_site):
    big = orjson.dumps({"site": new_site(), "events": [event(props={"k": "x" * 400}) for _ in range(100)]}) + b" " * 30000
    assert len(big) > 64 * 1024
    r = client.post("/api/collect", content=big, headers=TEXT)
    assert r.status_code == 413 and "error" in r.json()

    def chunks():  # no Content-Length: the limit is enforced while reading
        for i in range(0, len(big), 8192):
            yield big[i:i + 8192]

    r = client.post("/api/collect", content=chunks(), headers=TEXT)
    assert r.status_code == 413


@pytest.mark.parametrize(
    "raw",
    [b"not json", b'{"site":"x","events":[{"ts":NaN}]}', b"\xff\xfe", b"[" * 3000, b'{"site":"a","site":"b","events":[]}', b"{}"],
)
def test_malformed_bodies_are_400_json(client, raw):
    r = client.post("/api/collect", content=raw, headers=TEXT)
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json" and isinstance(r.json()["error"], str)


def test_unknown_site_stores_nothing_and_looks_like_success(client, runtime):
    site = f"nosuch-{uuid.uuid4().hex[:6]}"
    r = post(client, site, [event()])
    assert r.status_code == 202 and r.json() == {"accepted": 0, "rejected": []}
    assert "set-cookie" not in r.headers
    assert stored(runtime, site) == []
    assert runtime.pipeline.dropped["unknown_site"] >= 1


def test_registered_origin_gets_credentialed_cors(client, runtime, new_site):
    site = new_site("https://www.shop.example")
    r = post(client, site, [event()], {"Origin": "https://www.shop.example"})
    assert r.status_code == 202 and r.json()["accepted"] == 1
    assert r.headers["access-control-allow-origin"] == "https://www.shop.example"
    assert r.headers["access-control-allow-credentials"] == "true"
    pre = client.options(f"/api/collect?site={site}", headers={"Origin": "https://www.shop.example", "Access-Control-Request-Method": "POST"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "https://www.shop.example"


def test_unregistered_origin_stores_nothing_and_gets_no_cors(client, runtime, new_site):
    site = new_site("https://www.shop.example")
    r = post(client, site, [event()], {"Origin": "https://evil.example"})
    assert r.status_code == 202 and r.json()["accepted"] == 0
    assert "access-control-allow-origin" not in r.headers
    pre = client.options(f"/api/collect?site={site}", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in pre.headers
    assert stored(runtime, site) == []


def test_no_origin_is_accepted_and_noted(client, runtime, new_site):
    site = new_site()
    assert post(client, site, [event()]).json()["accepted"] == 1
    assert stored(runtime, site, "has_origin")[0]["has_origin"] == 0


def test_cookie_is_set_once_signed_and_reused(fresh, runtime, new_site):
    site = new_site()
    first = post(fresh, site, [event()])
    cookie = first.headers["set-cookie"]
    assert re.match(r"_tid=[\w-]+\.[0-9a-f]+\.[\w-]+; ", cookie)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie and "Secure" not in cookie
    assert f"Max-Age={COOKIE_MAX_AGE}" in cookie and 390 * 86400 <= COOKIE_MAX_AGE <= 400 * 86400
    second = post(fresh, site, [event()])
    assert "set-cookie" not in second.headers
    rows = stored(runtime, site, "vid, vid_signed, id_source, id_forged")
    assert len({r["vid"] for r in rows}) == 1
    assert all(r["vid_signed"] == 1 and r["id_source"] == "cookie" and r["id_forged"] == 0 for r in rows)


def test_cookie_is_secure_on_https(app, new_site):
    with TestClient(app, base_url="https://testserver") as c:
        r = post(c, new_site(), [event()])
    assert "Secure" in r.headers["set-cookie"]


def test_forged_cookie_gets_a_new_id_and_is_flagged(fresh, runtime, new_site):
    site = new_site()
    vid = post(fresh, site, [event()]).headers["set-cookie"].split("=", 1)[1].split(";")[0]
    head = vid.split(".")[0]
    forged = head[:-1] + ("B" if head[-1] == "A" else "A") + "." + vid.split(".", 1)[1]
    fresh.cookies.clear()
    fresh.cookies.set("_tid", forged)
    r = post(fresh, site, [event()])
    assert "set-cookie" in r.headers
    rows = stored(runtime, site, "vid, id_forged")
    assert len({r["vid"] for r in rows}) == 2
    assert sorted(r["id_forged"] for r in rows) == [0, 1]
    assert forged.split(".")[0] not in {r["vid"] for r in rows}


def test_client_vid_without_cookie_is_kept_unsigned(fresh, runtime, new_site):
    site = new_site()
    post(fresh, site, [event(vid="app-visitor-1")])
    row = stored(runtime, site, "vid, vid_signed, id_source")[0]
    assert row == {"vid": "app-visitor-1", "vid_signed": 0, "id_source": "client"}


@pytest.mark.parametrize("headers", [{"Sec-GPC": "1"}, {"DNT": "1"}])
def test_privacy_signals_store_nothing(client, runtime, new_site, headers):
    site = new_site()
    r = post(client, site, [event()], headers)
    assert r.status_code == 202 and r.json()["accepted"] == 0 and "set-cookie" not in r.headers
    assert stored(runtime, site) == []


def test_dnt_can_be_configured_off(settings, runtime, new_site):
    app = create_app(settings.replace(respect_dnt=False), runtime=runtime)
    runtime.pipeline.respect_dnt = False
    try:
        with TestClient(app) as c:
            site = new_site()
            assert post(c, site, [event()], {"DNT": "1"}).json()["accepted"] == 1
            assert post(c, site, [event()], {"Sec-GPC": "1"}).json()["accepted"] == 0  # GPC always wins
    finally:
        runtime.pipeline.respect_dnt = True


def test_opt_out_cookie_stops_collection(fresh, runtime, new_site):
    site = new_site()
    r = fresh.post("/api/opt-out")
    assert r.status_code == 200
    assert any(c.startswith("_tid_optout=1") for c in r.headers.get_list("set-cookie"))
    assert post(fresh, site, [event()]).json()["accepted"] == 0
    assert stored(runtime, site) == []


def test_enrichment_never_stores_the_raw_ip_or_pii(fresh, runtime, new_site):
    site = new_site()
    url = "https://shop.example/account/jane.doe@mail.example/orders?email=jane%40mail.example&phone=%2B33%206%2012%2034%2056%2078&q=call%20me%20at%20555-123-4567&utm_source=Newsletter&utm_medium=Email&utm_campaign=spring&gclid=abc123"
    post(fresh, site, [event(url=url, ref="https://mail.example/?to=jane.doe@mail.example")], {"User-Agent": BROWSER_UA})
    row = stored(runtime, site)[0]
    text = orjson.dumps(row, default=str).decode()
    assert "203.0.113.77" not in text and "jane" not in text and "555-123" not in text and "abc123" not in text
    assert row["ip_prefix"] == "203.0.113.0/24" and re.fullmatch(r"[0-9a-f]{16}", row["ip_hash"])
    assert row["path"] == "/account/[email]/orders"
    assert (row["utm_source"], row["utm_medium"], row["utm_campaign"]) == ("newsletter", "email", "spring")
    assert row["click_id_type"] == "gclid"
    assert row["ref_host"] == "mail.example"
    assert (row["ua_browser"], row["ua_device"], row["ua_is_bot"]) == ("Chrome", "desktop", 0)


def test_bot_user_agents_are_kept_and_flagged(client, runtime, new_site):
    site = new_site()
    post(client, site, [event()], {"User-Agent": BOT_UA})
    assert stored(runtime, site, "ua_is_bot, ua_device")[0] == {"ua_is_bot": 1, "ua_device": "bot"}


def test_server_time_is_event_time_and_client_time_is_kept(client, runtime, new_site):
    site = new_site()
    post(client, site, [event(ts=1_000_000_000_000)])
    row = stored(runtime, site, "toUnixTimestamp64Milli(ts) AS ts, toUnixTimestamp64Milli(client_ts) AS client_ts")[0]
    assert row["client_ts"] == 1_000_000_000_000 and row["ts"] > 1_700_000_000_000


def test_a_duplicated_event_id_is_stored_once(client, runtime, new_site):
    site = new_site()
    e = event()
    post(client, site, [e, e])
    post(client, site, [e])
    assert len(stored(runtime, site)) == 1


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["storage"] == "ok" and {"buffered_events", "spool_bytes", "buffered_segments", "full"} <= set(body["buffer"])


def test_wrong_method_and_path_are_json(client):
    assert client.get("/api/collect").json() == {"error": "method not allowed"}
    assert client.get("/api/nope").status_code == 404
