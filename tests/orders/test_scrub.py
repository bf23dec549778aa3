"""PII in what the shop's backend sends (issue #20): the order id and the coupon of a
`POST /api/orders` go through the same scrub as the browser's `order.id` and `order.coupon`
on `/api/collect`. Each hostile value is sent through both real endpoints, the stored rows are
read back from ClickHouse, and they must agree: e-mail addresses never stored, identifiers
otherwise kept (a numeric order id is what the confirmation joins on), and the same input
stored the same way on both sides, so a confirmation still finds its browser purchase."""

from __future__ import annotations

import uuid

import orjson
import pytest

from tests.conftest import auth, flush
from tests.security.test_pii_scrub import EMAILS, NUMBERS

BENIGN_IDS = ["100234567890", "ORD-2026-000123", "550e8400-e29b-41d4-a716-446655440000"]
BENIGN_COUPONS = ["WELCOME-2026-0001", "SAVE10"]


@pytest.fixture
def shop_site(runtime, new_site):
    site = new_site()
    token, _ = runtime.tokens.create(role="ingest", name=f"backend-{uuid.uuid4().hex[:6]}", sites=[site])
    return site, token


def _confirm(client, token, site, orders: list[dict]) -> None:
    r = client.post("/api/orders", content=orjson.dumps({"site": site, "orders": orders}),
                    headers={**auth(token), "content-type": "application/json"})
    assert r.status_code == 202 and r.json() == {"accepted": len(orders), "rejected": []}, r.text


def _buy(client, runtime, site, orders: list[dict]) -> None:
    events = [{"type": "purchase", "id": uuid.uuid4().hex, "url": "https://shop.example/thanks",
               "order": {"id": o["id"], "revenue": o["revenue"], "currency": o["currency"], "coupon": o.get("coupon", "")}} for o in orders]
    r = client.post("/api/collect", content=orjson.dumps({"site": site, "events": events}), headers={"Content-Type": "text/plain"})
    assert r.status_code == 202 and r.json()["accepted"] == len(events), r.text
    flush(runtime)


def _stored(storage, site, table: str) -> list[tuple[str, str]]:
    where = "" if table == "orders" else " AND type = 'purchase'"
    return sorted((r["order_id"], r["coupon"]) for r in storage.dicts(
        f"SELECT order_id, coupon FROM {table} WHERE site = {{site:String}}{where}", {"site": site}))


def test_an_email_in_an_order_id_or_coupon_is_never_stored(client, storage, shop_site):
    site, token = shop_site
    orders = []
    for i, (label, pii, _) in enumerate(EMAILS):
        orders.append({"id": f"o{i} {pii}", "revenue": 10, "currency": "EUR", "status": "paid", "coupon": f"VIP {pii}"})
    orders.append({"id": EMAILS[0][1], "revenue": 10, "currency": "EUR", "status": "paid"})
    _confirm(client, token, site, orders)
    rows = storage.dicts("SELECT order_id, coupon, token_id FROM orders FINAL WHERE site = {site:String}", {"site": site})
    assert len(rows) == len(orders)
    text = orjson.dumps(rows).decode().lower()
    leaks = [(label, n) for label, _, needles in EMAILS for n in needles if n.lower() in text]
    assert not leaks, leaks
    assert {r["order_id"] for r in rows} == {"[email]"} | {f"o{i} [email]" for i in range(len(EMAILS))}
    assert {r["coupon"] for r in rows} == {"", "VIP [email]"}


def test_the_same_value_is_stored_the_same_way_by_both_endpoints(client, runtime, storage, shop_site):
    """Parity with `/api/collect` for every hostile and benign value, in both fields: if the
    two scrubs ever differ, a confirmation stops joining its browser purchase (or one side
    keeps what the other removes)."""
    site, token = shop_site
    values = [pii for _, pii, _ in EMAILS + NUMBERS] + BENIGN_IDS
    orders = [{"id": f"{i}:{v}", "revenue": 5, "currency": "EUR", "status": "paid", "coupon": c}
              for i, v in enumerate(values) for c in [v.lower()[:200]]]
    orders += [{"id": v, "revenue": 5, "currency": "EUR", "status": "paid", "coupon": c}
               for v, c in zip(BENIGN_IDS, BENIGN_COUPONS + [""])]
    _confirm(client, token, site, orders)
    _buy(client, runtime, site, orders)
    confirmed, browser = _stored(storage, site, "orders"), _stored(storage, site, "events")
    assert confirmed == browser
    # Benign identifiers are kept exactly (upper-cased coupon, as both endpoints normalise it).
    assert ("100234567890", "WELCOME-2026-0001") in confirmed
    assert ("ORD-2026-000123", "SAVE10") in confirmed
    assert not [row for row in confirmed if "mailhost" in (row[0] + row[1]).lower()]


def test_a_scrubbed_confirmation_still_confirms_its_purchase(client, runtime, storage, marketer_token, shop_site):
    """The overview counts the order confirmed (not unconfirmed) when its id carried an
    e-mail address on both sides: the join is on the scrubbed id."""
    site, token = shop_site
    order = {"id": "A-7 henry.q+news@mailhost-x.org", "revenue": 42, "currency": "EUR", "status": "paid"}
    _buy(client, runtime, site, [order])
    _confirm(client, token, site, [order])
    r = client.get("/api/reports/overview", params={"site": site, "traffic": "all"}, headers=auth(marketer_token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["revenue_source"] == "confirmed", body
    assert (body["orders"], body["revenue"], body["unconfirmed_orders"]) == (1, 42.0, 0), body
    assert body["conversion_rate"] == 1.0  # joined to the browser purchase, so to its visitor
    assert storage.scalar("SELECT count() FROM orders WHERE site = {s:String} AND order_id = 'A-7 [email]'", {"s": site}) == 1
