"""`/api/trust/*` over HTTP: roles, validation (400 with human messages), and the shapes."""

from __future__ import annotations

import pytest

from tests.conftest import BOT_UA, auth

RANGE = {"from": "2026-03-01", "to": "2026-03-31"}
PATHS = ["/api/trust/visitors", "/api/trust/visitors/v1", "/api/trust/promotions", "/api/trust/coupons", "/api/trust/networks"]


@pytest.fixture
def site(journeys, new_site):
    spec = {
        "v1": [("pageview", "/", 0), ("promo_view", "A", 2), ("promo_click", "A", 4)],
        "v2": [("pageview", "/", 0), ("promo_view", "A", 2), ("promo_click", "A", 2.05), ("promo_view", "B", 5), ("promo_click", "B", 5.05)],
        "bot": [("pageview", f"/p/{i}", i, {"ua": BOT_UA}) for i in range(3)] + [("promo_click", "A", 9, {"ua": BOT_UA, "ip": "192.0.2.9"})],
    }
    spec.update({f"c{i}": [("pageview", "/", 100 + i), ("purchase", (f"o{i}", 10.0), 130 + i, {"coupon": "LEAKY"})] for i in range(10)})
    return journeys(new_site(), spec)


@pytest.mark.parametrize("path", PATHS)
def test_roles(path, client, site, marketer_token, fraud_token, admin_token):
    q = {"site": site, **RANGE}
    assert client.get(path, params=q).status_code == 401
    r = client.get(path, params=q, headers=auth(marketer_token))
    assert r.status_code == 403 and "error" in r.json()
    assert client.get(path, params=q, headers=auth(fraud_token)).status_code == 200
    assert client.get(path, params=q, headers=auth(admin_token)).status_code == 200


@pytest.mark.parametrize("query, message", [
    ({}, "site is required"),
    ({"max_score": "101"}, "max_score must be between 0 and 100"),
    ({"max_score": "x"}, "max_score must be a whole number"),
    ({"limit": "0"}, "limit must be between 1 and 10000"),
    ({"limit": "10001"}, "limit must be between 1 and 10000"),
    ({"offset": "-1"}, "offset must be between"),
    ({"reason": "bogus"}, "reason must be one of"),
    ({"from": "yesterday"}, "from must be an ISO date"),
])
def test_visitors_validation(query, message, client, site, fraud_token):
    params = {"site": site, **RANGE, **query} if query else {}
    r = client.get("/api/trust/visitors", params=params, headers=auth(fraud_token))
    assert r.status_code == 400 and message in r.json()["error"]


def test_visitors_listing(client, site, fraud_token):
    body = client.get("/api/trust/visitors", params={"site": site, **RANGE}, headers=auth(fraud_token)).json()
    got = {r["vid"]: r for r in body["rows"]}
    assert set(got) == {"bot", "v2", *(f"c{i}" for i in range(10))} and body["total"] == 12
    assert got["bot"]["score"] == 0 and got["bot"]["reasons"][0] == "bot_user_agent"
    assert got["v2"]["reasons"] == ["fast_click"] and got["v2"]["evidence"]["fast_click"]["clicks"] == 2
    # ten fresh checkouts within ten seconds: a burst of fresh ids, each with evidence of its own
    assert got["c0"]["evidence"]["coupon_shared"] == {"coupon": "LEAKY", "visitors": 10, "ip_prefixes": 10, "redeemers_in_prefix": 1,
                                                      "redeemers_in_burst": 10, "fresh_checkout": True, "promotion_unseen": False,
                                                      "registered": False}
    assert set(got["bot"]) >= {"vid", "score", "reasons", "events", "first_seen", "last_seen"}
    assert body["rows"][0]["vid"] == "bot" and got["bot"]["first_seen"] == "2026-03-02T10:00:00.000Z"
    everyone = client.get("/api/trust/visitors", params={"site": site, **RANGE, "max_score": 100, "limit": 5, "offset": 10}, headers=auth(fraud_token)).json()
    assert everyone["total"] == 13 and len(everyone["rows"]) == 3 and everyone["rows"][-1]["score"] == 100
    past = client.get("/api/trust/visitors", params={"site": site, **RANGE, "offset": 50}, headers=auth(fraud_token)).json()
    envelope = {"site": site, "from": RANGE["from"], "to": RANGE["to"], "traffic": "all", "tz": "UTC", "filters": []}  # every answer starts so
    assert past == {**envelope, "rows": [], "total": 12}
    only = client.get("/api/trust/visitors", params={"site": site, **RANGE, "reason": "fast_click"}, headers=auth(fraud_token)).json()
    assert [r["vid"] for r in only["rows"]] == ["v2"]


def test_one_visitor(client, site, fraud_token):
    body = client.get("/api/trust/visitors/v2", params={"site": site, **RANGE}, headers=auth(fraud_token)).json()
    assert body["score"] == 50 and body["excluded"] and body["signals"]["fast_click"] == {"fired": True, "value": 2, "weight": 50}
    assert body["signals"]["velocity"]["fired"] is False and [e["type"] for e in body["timeline"]][:3] == ["pageview", "promo_view", "promo_click"]
    r = client.get("/api/trust/visitors/nobody", params={"site": site, **RANGE}, headers=auth(fraud_token))
    assert r.status_code == 404 and "nobody" in r.json()["error"]


def test_promotions_coupons_networks(client, site, fraud_token):
    q = {"site": site, **RANGE}
    promos = {r["promo_id"]: r for r in client.get("/api/trust/promotions", params=q, headers=auth(fraud_token)).json()["rows"]}
    # A: v1's human click, v2's fast click, the bot's click without a view.
    assert promos["A"]["clicks"] == 3 and promos["A"]["suspicious_clicks"] == 2 and promos["A"]["suspicious_share"] == pytest.approx(2 / 3, abs=1e-5)
    assert {"ip_prefix": "192.0.2.0/24", "suspicious_clicks": 1} in promos["A"]["top_prefixes"]
    coupons = client.get("/api/trust/coupons", params=q, headers=auth(fraud_token)).json()["rows"]
    assert coupons == [{"coupon": "LEAKY", "visitors": 10, "ip_prefixes": 10, "public": False, "unusual": True, "leaked": True,
                        "verdict": "leaked", "redemptions": 10, "revenue": 100.0,
                        "evidence": {"leak_redeemers": 10, "fresh_checkouts": 10, "crowded_redeemers": 0, "burst_redeemers": 10,
                                     "redeemers_without_promotion": 0, "top_prefix": coupons[0]["evidence"]["top_prefix"],
                                     "top_prefix_redeemers": 1, "max_redeemers_in_burst": 10}}]
    networks = client.get("/api/trust/networks", params=q, headers=auth(fraud_token)).json()["rows"]
    assert any(n["automated_events"] >= 3 and n["reasons"].get("bot_user_agent") == 1 for n in networks)
    bad = client.get("/api/trust/coupons", params={**q, "all": "maybe"}, headers=auth(fraud_token))
    assert bad.status_code == 400 and "all must be" in bad.json()["error"]
