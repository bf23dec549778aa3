"""Confirmed revenue answers the same on the embedded engine, one ClickHouse server node (as the
least-privilege users) and a cluster of two shards, where `orders` is a Distributed table
sharded by order id and the events are sharded by visitor: the join of the two must not
depend on where the rows live."""

from __future__ import annotations

import uuid

import pytest

from tests.storage.test_same_figures import DAYS, END_MS, FROM, TO, VISITORS, answers
from tests.support.clickhouse import api
from tracker.seed import register_promotions, write_rows

MONEY = ["overview", "sources", "devices", "promotions", "campaigns"]


@pytest.fixture(scope="module")
def shops(runtime, server_runtime, cluster_runtime):
    site = f"orders-{uuid.uuid4().hex[:8]}"
    chunks: list[bytes] = []
    write_rows(runtime, site, VISITORS, DAYS, seed=23, end_ms=END_MS, insert=chunks.append)
    rows = b"".join(chunks)
    backends = {"embedded": runtime, "server": server_runtime, "cluster": cluster_runtime}
    for rt in backends.values():
        rt.sites.ensure(site, [])
        register_promotions(rt, site)
        rt.storage.insert_jsonl("events", rows)
    purchases = runtime.storage.dicts(
        "SELECT DISTINCT order_id, toString(revenue) AS revenue, currency FROM events WHERE site = {s:String} AND type = 'purchase' "
        "ORDER BY order_id", {"s": site})
    assert len(purchases) > 40
    orders = []
    for i, p in enumerate(purchases):
        if i % 10 == 0:
            continue  # never confirmed
        status = "refunded" if i % 10 == 1 else "paid"
        revenue = "1.00" if i % 10 == 2 else p["revenue"]  # corrected by the backend
        orders.append({"id": p["order_id"], "revenue": revenue, "currency": p["currency"] or "USD", "status": status})
    orders.append({"id": "phone-1", "revenue": "42.00", "currency": "USD", "status": "paid", "ts": END_MS - 3600_000})
    with api(runtime) as a, api(server_runtime) as b, api(cluster_runtime) as c:
        clients = dict(zip(backends, (a, b, c)))
        for name, (client, headers) in clients.items():
            r = client.post("/api/orders", json={"site": site, "orders": orders}, headers=headers)
            assert r.status_code == 202 and r.json()["accepted"] == len(orders), (name, r.text)
        yield site, clients


@pytest.mark.parametrize("name", MONEY)
def test_confirmed_money_is_the_same_on_one_node_and_two_shards(shops, name):
    site, clients = shops
    for params in ({"site": site, "from": FROM, "to": TO}, {"site": site, "from": FROM, "to": TO, "traffic": "all"}):
        got = {k: {f: v for f, v in body.items() if f != "trust_as_of"}  # when each backend evaluated trust
               for k, body in answers(clients, f"/api/reports/{name}", params).items()}
        assert got["embedded"].get("revenue_source") == "confirmed"
        assert got["server"] == got["embedded"], params
        assert got["cluster"] == got["embedded"], params
    if name == "overview":
        body = got["embedded"]
        assert body["unconfirmed_orders"] > 0 and body["refunded_orders"] > 0 and body["orders"] > 30


def test_trust_money_reasons_are_the_same(shops):
    site, clients = shops
    got = answers(clients, "/api/trust/visitors", {"site": site, "from": FROM, "to": TO, "max_score": "100", "limit": "1000",
                                                   "reason": "revenue_mismatch"})
    assert got["embedded"]["total"] > 0
    assert got["server"] == got["embedded"] and got["cluster"] == got["embedded"]
