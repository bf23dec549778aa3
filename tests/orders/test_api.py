"""`POST /api/orders` over HTTP on the real app and chDB: who may send, what is stored, the
limits on both sides, idempotence, and a 202 that means the rows are in the table."""

from __future__ import annotations

import json
import os
import signal
import uuid

import pytest

from tests.conftest import auth
from tracker.orders.schema import MAX_BODY_BYTES, MAX_ORDERS

LATEST = """
    SELECT order_id, argMax(status, version) AS status, toString(argMax(revenue, version)) AS revenue,
           argMax(currency, version) AS currency, argMax(coupon, version) AS coupon, count() AS confirmations
    FROM orders WHERE site = {site:String} GROUP BY order_id ORDER BY order_id
"""


@pytest.fixture
def shop_site(runtime, new_site):
    site = new_site()
    token, _ = runtime.tokens.create(role="ingest", name=f"backend-{uuid.uuid4().hex[:6]}", sites=[site])
    return site, token


def post(client, token, body, **headers):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/api/orders", content=data, headers={**auth(token), "content-type": "application/json", **headers})


def latest(storage, site):
    return storage.dicts(LATEST, {"site": site})


def order(oid="A1", revenue=12.5, status="paid", **extra):
    return {"id": oid, "revenue": revenue, "currency": "usd", "status": status, **extra}


def test_orders_are_on_disk_when_answered(client, storage, shop_site):
    site, token = shop_site
    r = post(client, token, {"site": site, "orders": [order("A1", 12.5, coupon=" save10 "), order("A2", "99.99", ts=1772445600000)]})
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 2, "rejected": []}
    # No flush, no wait: the insert had completed before the answer.
    rows = latest(storage, site)
    assert [(r["order_id"], r["status"], r["revenue"], r["currency"], r["coupon"]) for r in rows] == [
        ("A1", "paid", "12.5", "USD", "SAVE10"), ("A2", "paid", "99.99", "USD", "")]
    ordered = storage.scalar("SELECT toString(ordered_at) FROM orders WHERE site = {s:String} AND order_id = 'A2'", {"s": site})
    assert ordered == "2026-03-02 10:00:00.000"


def test_the_latest_confirmation_wins_and_retries_change_nothing(client, storage, shop_site):
    site, token = shop_site
    body = {"site": site, "orders": [order("B1", 40)]}
    assert post(client, token, body).status_code == 202
    assert post(client, token, body).status_code == 202  # a retry of the same request
    assert [(r["status"], r["revenue"]) for r in latest(storage, site)] == [("paid", "40")]
    assert post(client, token, {"site": site, "orders": [order("B1", 35)]}).status_code == 202  # corrected
    assert post(client, token, {"site": site, "orders": [order("B1", 35, status="refunded")]}).status_code == 202
    [row] = latest(storage, site)
    # Only the latest version counts; how many rows are left depends on background merges
    # (ReplacingMergeTree), so the row count is no part of the answer.
    assert (row["status"], row["revenue"]) == ("refunded", "35")
    # Within one request, a later entry for the same order wins.
    assert post(client, token, {"site": site, "orders": [order("B2", 1), order("B2", 2)]}).status_code == 202
    assert [r["revenue"] for r in latest(storage, site) if r["order_id"] == "B2"] == ["2"]


@pytest.mark.parametrize("bad, message", [
    ({"id": "x", "revenue": -1, "currency": "USD", "status": "paid"}, "revenue"),
    ({"id": "x", "revenue": 1, "currency": "US", "status": "paid"}, "currency"),
    ({"id": "x", "revenue": 1, "currency": "USD", "status": "cancelled"}, "status"),
    ({"id": "x", "revenue": 1, "currency": "USD"}, "status"),
    ({"revenue": 1, "currency": "USD", "status": "paid"}, "id"),
    ({"id": "", "revenue": 1, "currency": "USD", "status": "paid"}, "id"),
    ({"id": "x", "revenue": 1, "currency": "USD", "status": "paid", "revnue": 2}, "revnue"),
    ({"id": "x", "revenue": "12,50", "currency": "USD", "status": "paid"}, "revenue"),
    ({"id": "x", "revenue": True, "currency": "USD", "status": "paid"}, "revenue"),
    ({"id": "x", "revenue": 1e11, "currency": "USD", "status": "paid"}, "revenue"),
    ({"id": "x" * 201, "revenue": 1, "currency": "USD", "status": "paid"}, "id"),
    ({"id": "a\nb", "revenue": 1, "currency": "USD", "status": "paid"}, "control"),
    ({"id": "x", "revenue": 1, "currency": "USD", "status": "paid", "ts": "yesterday"}, "ts"),
    ({"id": "x", "revenue": 1, "currency": "USD", "status": "paid", "ts": 5}, "ts"),
    ("not an object", "object"),
])
def test_a_bad_order_is_rejected_with_its_index_and_the_rest_kept(client, storage, shop_site, bad, message):
    site, token = shop_site
    r = post(client, token, {"site": site, "orders": [order("good"), bad]})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["accepted"] == 1 and [x["index"] for x in body["rejected"]] == [1]
    assert message in body["rejected"][0]["error"]
    assert [row["order_id"] for row in latest(storage, site)] == ["good"]


def test_limits_just_under_and_just_over(client, storage, shop_site):
    site, token = shop_site
    many = [order(f"L{i:04d}", i) for i in range(MAX_ORDERS)]
    r = post(client, token, {"site": site, "orders": many})
    assert r.status_code == 202 and r.json()["accepted"] == MAX_ORDERS
    assert len(latest(storage, site)) == MAX_ORDERS
    r = post(client, token, {"site": site, "orders": many + [order("one-more")]})
    assert r.status_code == 413 and "1000" in r.json()["error"]
    big = json.dumps({"site": site, "orders": [order("x", coupon="c" * 150)]}).encode()
    padded = big[:-1] + b" " * (MAX_BODY_BYTES - len(big)) + b"}"
    assert len(padded) == MAX_BODY_BYTES and post(client, token, padded).status_code == 202
    assert post(client, token, padded[:-1] + b" }").status_code == 413
    assert post(client, token, {"site": site, "orders": [order("x", revenue="10000000000")]}).json()["accepted"] == 1


@pytest.mark.parametrize("body, status", [
    (b"{not json", 400),
    (b'{"site": "s", "site": "t", "orders": []}', 400),
    (b'["a"]', 400),
    (b'{"site": "bad site!", "orders": []}', 400),
    (b'{"site": "s", "orders": {}}', 400),
    (b'{"site": "s", "orders": [], "extra": 1}', 400),
    (b'{"site": "s", "orders": [{"id": "x", "revenue": NaN, "currency": "USD", "status": "paid"}]}', 400),
    (b"\xff\xfe", 400),
    (b"[" * 100_000, 400),
])
def test_malformed_bodies_are_4xx_json(client, shop_site, body, status):
    _, token = shop_site
    r = post(client, token, body)
    assert r.status_code == status, r.text
    assert set(r.json()) == {"error"}


def test_content_type_and_unknown_site(client, shop_site, admin_token):
    site, token = shop_site
    r = client.post("/api/orders", content=json.dumps({"site": site, "orders": []}), headers={**auth(token), "content-type": "text/plain"})
    assert r.status_code == 415
    r = post(client, admin_token, {"site": "no-such-site", "orders": [order()]})
    assert r.status_code == 404 and "no-such-site" in r.json()["error"]


def test_who_may_send_orders(client, runtime, shop_site, new_site, marketer_token, fraud_token, admin_token):
    site, token = shop_site
    body = {"site": site, "orders": [order("W1")]}
    assert client.post("/api/orders", json=body).status_code == 401
    assert post(client, "trk_000000000000_" + "x" * 30, body).status_code == 401
    assert post(client, marketer_token, body).status_code == 403
    assert post(client, fraud_token, body).status_code == 403
    assert post(client, admin_token, body).status_code == 202
    other = new_site()
    r = post(client, token, {"site": other, "orders": [order("W2")]})
    assert r.status_code == 404  # another shop's site does not exist for this token
    assert runtime.storage.scalar("SELECT count() FROM orders WHERE site = {s:String}", {"s": other}) == 0


def test_an_ingest_token_can_do_nothing_else(client, runtime, shop_site):
    site, token = shop_site
    q = {"site": site, "from": "2026-03-01", "to": "2026-03-02"}
    for path in ("/api/reports/overview", "/api/reports/promotions", "/api/trust/visitors", "/api/privacy/visitors/v1",
                 "/api/admin/tokens", "/api/admin/sites", "/api/admin/audit"):
        assert client.get(path, params=q, headers=auth(token)).status_code == 403, path
    assert client.post("/api/admin/tokens", json={"role": "admin", "name": "x"}, headers=auth(token)).status_code == 403


def test_an_ingest_token_is_always_site_scoped(client, admin_token, shop_site):
    site, _ = shop_site
    r = client.post("/api/admin/tokens", json={"role": "ingest", "name": "backend"}, headers=auth(admin_token))
    assert r.status_code == 400 and "--site" in r.json()["error"]
    r = client.post("/api/admin/tokens", json={"role": "ingest", "name": "backend", "sites": [site]}, headers=auth(admin_token))
    assert r.status_code in (200, 201) and r.json()["role"] == "ingest" and r.json()["sites"] == [site]


def test_a_202_survives_sigkill(tracker_server):
    """The durability promise on a real `tracker serve`: SIGKILL straight after the 202, and
    the acknowledged orders are in the table when the data dir is opened again."""
    import httpx2 as httpx

    site = "kill-shop"
    tracker_server.add_site(site, "https://shop.example")
    made = tracker_server.api("POST", "/api/admin/tokens", json={"role": "ingest", "name": "b", "sites": [site]}).json()
    r = httpx.post(tracker_server.url + "/api/orders", json={"site": site, "orders": [order("D1"), order("D2", 7)]},
                   headers=auth(made["token"]), timeout=30)
    assert r.status_code == 202 and r.json()["accepted"] == 2
    os.kill(tracker_server.proc.pid, signal.SIGKILL)
    tracker_server.proc.wait()
    rows = tracker_server.stored("SELECT order_id, toString(revenue) AS revenue FROM orders WHERE site = {s:String} ORDER BY order_id", s=site)
    assert rows == [{"order_id": "D1", "revenue": "12.5"}, {"order_id": "D2", "revenue": "7"}]
