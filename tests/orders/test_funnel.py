"""A funnel's purchase step in confirmed mode counts only confirmed, paid orders — the same
definition as every money figure (`revenue.events`) — over HTTP on real chDB, with the shop of
test_revenue (o1 confirmed, o2 forged and never confirmed, o3 refunded, o4 confirmed once for
two browser purchases, o6 confirmed in USD)."""

from __future__ import annotations

import json

from tests.conftest import auth
from tests.orders.test_revenue import RANGE, journeys_of, shop  # noqa: F401  (the fixture)

STEPS = json.dumps([{"type": "pageview", "path": "/"}, {"type": "purchase"}])
PROMO_STEPS = json.dumps([{"type": "promo_click", "promo": "A"}, {"type": "purchase"}])


def funnel(client, token, site, steps, **params):
    r = client.get("/api/reports/funnel", params={"site": site, **RANGE, "steps": steps, **params}, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def visitors(body):
    return [s["visitors"] for s in body["steps"]]


def test_purchase_step_counts_confirmed_orders_only(client, marketer_token, shop):  # noqa: F811
    body = funnel(client, marketer_token, shop, STEPS)
    assert body["revenue_source"] == "confirmed"
    # v1 (o1), v4 (o4) and v5 (o6, USD: a confirmed order in another currency is still one);
    # not v2 (never confirmed) nor v3 (refunded).
    assert visitors(body) == [5, 3]
    # Promo A's clickers: v1 bought a confirmed order, v2's purchase is the forgery.
    assert visitors(funnel(client, marketer_token, shop, PROMO_STEPS)) == [2, 1]


def test_breakdown_counts_the_same_way(client, marketer_token, shop):  # noqa: F811
    body = funnel(client, marketer_token, shop, STEPS, breakdown="device")
    assert visitors(body) == [5, 3]
    assert [(r["value"], [s["visitors"] for s in r["steps"]]) for r in body["breakdown"]["rows"]] == [("desktop", [5, 3])]


def test_without_confirmations_every_browser_purchase_counts(client, marketer_token, new_site, journeys):
    site = new_site()
    journeys_of(site, journeys)
    body = funnel(client, marketer_token, site, STEPS)
    assert body["revenue_source"] == "browser" and visitors(body) == [5, 5]
    assert visitors(funnel(client, marketer_token, site, PROMO_STEPS)) == [2, 2]
