"""Reports on confirmed revenue (tracker/reports/revenue.py), on real chDB with readable
journeys and confirmations posted over HTTP.

The shop, all on 2026-03-02 (T0 10:00 UTC), long past the grace period:
  v1  lands from news/spring, views and clicks promo A, buys o1 (browser 100.00)
      -> confirmed paid 80.00 EUR (the backend corrects the browser)
  v2  views and clicks A, buys o2 for 9,999,999.00 -> never confirmed (the forged purchase)
  v3  clicks B, buys o3 50.00 -> confirmed, then refunded
  v4  buys o4 30.00, and again from a reloaded thank-you page (new event id) -> confirmed once
  v5  buys o6 15.00 USD -> confirmed in USD (not the reporting currency, EUR)
  --  o5 20.00 EUR confirmed at T0+1h with no browser event (a phone order)
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import T0, auth
from tracker.reports import _sql, revenue
from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute

RANGE = {"from": "2026-03-01", "to": "2026-03-03"}
SPRING = "?utm_source=news&utm_medium=email&utm_campaign=spring"


def journeys_of(site, journeys):
    journeys(site, {
        "v1": [("pageview", "/", 0, {"query": SPRING}), ("promo_view", "A", 2), ("promo_click", "A", 10),
               ("purchase", ("o1", 100.0), 60, {"currency": "EUR"})],
        "v2": [("pageview", "/", 0), ("promo_view", "A", 2), ("promo_click", "A", 10),
               ("purchase", ("o2", 9999999.0), 120, {"currency": "EUR"})],
        "v3": [("pageview", "/", 0), ("promo_click", "B", 10), ("purchase", ("o3", 50.0), 200, {"currency": "EUR"})],
        "v4": [("pageview", "/", 0), ("purchase", ("o4", 30.0), 300, {"currency": "EUR"}),
               ("purchase", ("o4", 30.0), 320, {"currency": "EUR"})],
        "v5": [("pageview", "/", 0), ("purchase", ("o6", 15.0), 400, {"currency": "USD"})],
    })


def confirm(client, token, site, *orders):
    r = client.post("/api/orders", json={"site": site, "orders": list(orders)}, headers=auth(token))
    assert r.status_code == 202 and not r.json()["rejected"], r.text


def paid(oid, amount, currency="EUR", **extra):
    return {"id": oid, "revenue": amount, "currency": currency, "status": "paid", **extra}


@pytest.fixture
def shop(runtime, client, new_site, journeys):
    site = new_site()
    journeys_of(site, journeys)
    token, _ = runtime.tokens.create(role="ingest", name=f"backend-{uuid.uuid4().hex[:6]}", sites=[site])
    confirm(client, token, site, paid("o1", "80.00"), paid("o3", 50), paid("o4", 30), paid("o6", 15, "USD"),
            paid("o5", 20, ts=int((T0 + timedelta(hours=1)).timestamp() * 1000)))
    confirm(client, token, site, {**paid("o3", 50), "status": "refunded"})
    return site


def report(runtime, name, site, **params):
    return execute(runtime, REPORTS[name], {"site": site, **RANGE, **params})


def test_promotions_count_confirmed_orders_and_their_clicks(runtime, shop):
    body = report(runtime, "promotions", shop)
    assert body["revenue_source"] == "confirmed" and body["currency"] == "EUR"
    rows = {r["promo_id"]: r for r in body["rows"]}
    # A earns o1 at its confirmed 80.00; o2 (never confirmed) earns nothing; B's order was refunded.
    assert (rows["A"]["conversions"], rows["A"]["revenue"], rows["A"]["attributed_revenue"]) == (1, 80.0, 80.0)
    assert (rows["B"]["conversions"], rows["B"]["revenue"]) == (0, 0.0)
    # Totals: o1, o4 (once), and the phone order o5 without any browser event; not o6 (USD).
    assert body["totals"] == {"purchases": 3, "revenue": 130.0, "attributed_purchases": 1, "attributed_revenue": 80.0}


def test_campaigns_count_confirmed_orders_in_their_sessions(runtime, shop):
    rows = {(r["utm_source"], r["utm_campaign"]): r for r in report(runtime, "campaigns", shop)["rows"]}
    assert (rows[("news", "spring")]["conversions"], rows[("news", "spring")]["revenue"]) == (1, 80.0)
    direct = rows[("", "")]
    assert (direct["conversions"], direct["revenue"], direct["sessions"]) == (1, 30.0, 4)  # o4 once; no session for o5


def test_lift_converters_bought_confirmed_orders(runtime, shop):
    body = report(runtime, "lift", shop, promo="A")
    assert body["revenue_source"] == "confirmed"
    assert body["exposed"]["visitors"] == 2 and body["exposed"]["converters"] == 1  # v2's forged purchase is no conversion


def test_without_confirmations_the_browser_counts(runtime, new_site, journeys):
    site = new_site()
    journeys_of(site, journeys)
    body = report(runtime, "promotions", site)
    assert body["revenue_source"] == "browser" and body["currency"] == "EUR"
    # Browser purchases in EUR (the range's most common currency); the USD one is apart.
    assert body["totals"]["revenue"] == 100.0 + 9999999.0 + 50.0 + 30.0 + 30.0
    assert report(runtime, "lift", site, promo="A")["exposed"]["converters"] == 2


def test_reconciliation_shows_unconfirmed_refunded_and_pending(runtime, shop):
    params = {"site": shop, "start": T0 - timedelta(days=1), "end": T0 + timedelta(days=1), "tz": "UTC"}
    counting = revenue.money_of(runtime.storage, params)
    assert counting == revenue.Money(confirmed=True, currency="EUR", currencies=2, grace_minutes=60)
    row = runtime.storage.query(revenue.reconciliation_sql(_sql.events(False)), {**params, **revenue.bind(counting)}).first()
    assert (row["unconfirmed_orders"], float(row["unconfirmed_revenue"])) == (1, 9999999.0)
    assert (row["refunded_orders"], float(row["refunded_revenue"])) == (1, 50.0)
    assert row["pending_orders"] == 0
    by_currency = runtime.storage.dicts(revenue.currencies_sql(_sql.events(False), counting), {**params, **revenue.bind(counting)})
    assert [(r["currency"], r["orders"], float(r["revenue"])) for r in by_currency] == [("EUR", 2, 110.0), ("USD", 1, 15.0)]
    orphans = revenue.orphans(runtime.storage, params, counting)
    assert [(o["day"].isoformat(), o["currency"], o["orders"], float(o["revenue"])) for o in orphans] == [("2026-03-02", "EUR", 1, 20.0)]


def test_a_purchase_within_the_grace_period_is_pending(runtime, client, new_site, journeys):
    from datetime import UTC, datetime

    site = new_site()
    now = datetime.now(UTC)
    journeys(site, {"v1": [("pageview", "/", now - timedelta(minutes=5)), ("purchase", ("p1", 12.0), now - timedelta(minutes=4))],
                    "v2": [("pageview", "/", now - timedelta(hours=3)), ("purchase", ("p2", 7.0), now - timedelta(hours=3))]})
    token, _ = runtime.tokens.create(role="ingest", name="backend-grace", sites=[site])
    confirm(client, token, site, paid("other", 1, "USD"))
    params = {"site": site, "start": now - timedelta(days=1), "end": now + timedelta(minutes=1), "tz": "UTC"}
    counting = revenue.money_of(runtime.storage, params)
    row = runtime.storage.query(revenue.reconciliation_sql(_sql.events(False)), {**params, **revenue.bind(counting)}).first()
    assert (row["pending_orders"], row["unconfirmed_orders"]) == (1, 1)


def test_sources_and_devices_count_confirmed_orders(runtime, shop):
    body = report(runtime, "sources", shop)
    assert body["revenue_source"] == "confirmed"
    rows = {r["source"]: (r["orders"], r["revenue"]) for r in body["rows"]}
    assert rows == {"news": (1, 80.0), "(direct)": (1, 30.0)}
    devices = report(runtime, "devices", shop)
    assert [(r["value"], r["orders"], r["revenue"]) for r in devices["device"]] == [("desktop", 2, 110.0)]


def forged_shop(journeys, site, n=20):
    spec = {f"h{i}": [("pageview", "/", i * 60), ("purchase", (f"h{i}", 40.0 + i), i * 60 + 30, {"currency": "EUR"})] for i in range(n)}
    spec["forger"] = [("pageview", "/", 5000), ("purchase", ("fake", 9999999.0), 5010, {"currency": "EUR"})]
    journeys(site, spec)


def test_the_sanity_ceiling_keeps_a_forged_purchase_out_of_browser_revenue(runtime, new_site, journeys):
    site = new_site()
    forged_shop(journeys, site)
    body = report(runtime, "promotions", site)
    assert body["revenue_source"] == "browser"
    assert body["totals"]["purchases"] == 20 and body["totals"]["revenue"] == sum(40.0 + i for i in range(20))
    few = new_site()
    forged_shop(journeys, few, n=18)  # 19 purchases in all, fewer than revenue_ceiling_min_orders: no ceiling to judge by
    assert report(runtime, "promotions", few)["totals"]["revenue"] == sum(40.0 + i for i in range(18)) + 9999999.0


def test_unconfirmed_revenue_stops_at_the_ceiling(runtime, client, new_site, journeys):
    site = new_site()
    forged_shop(journeys, site)
    token, _ = runtime.tokens.create(role="ingest", name="backend-ceiling", sites=[site])
    confirm(client, token, site, *[paid(f"h{i}", 40 + i) for i in range(19)])  # h19 and the forgery unconfirmed
    params = {"site": site, "start": T0 - timedelta(days=1), "end": T0 + timedelta(days=1), "tz": "UTC"}
    counting = revenue.money_of(runtime.storage, params)
    # 19 confirmations are fewer than revenue_ceiling_min_orders: the range's 21 browser
    # purchases set the median (50.00: the forgery cannot move it), times 20.
    assert counting.ceiling == 20 * 50.0
    row = runtime.storage.query(revenue.reconciliation_sql(_sql.events(False)), {**params, **revenue.bind(counting)}).first()
    assert (row["unconfirmed_orders"], float(row["unconfirmed_revenue"]), row["over_ceiling_orders"]) == (2, 59.0, 1)


def test_overview_counts_confirmed_orders_and_shows_the_rest_apart(runtime, shop):
    body = report(runtime, "overview", shop)
    assert (body["revenue_source"], body["currency"]) == ("confirmed", "EUR")
    # o1 80 + o4 30 (once) + the phone order o5 20; not o2 (unconfirmed), o3 (refunded), o6 (USD).
    assert (body["orders"], body["revenue"], body["aov"]) == (3, 130.0, 43.33)
    assert body["visitors"] == 5 and body["conversion_rate"] == 2 / 5  # v1 and v4; o5 has no visitor
    assert (body["unconfirmed_orders"], body["unconfirmed_revenue"]) == (1, 9999999.0)
    assert (body["refunded_orders"], body["refunded_revenue"], body["pending_orders"]) == (1, 50.0, 0)
    assert body["revenue_by_currency"] == [{"currency": "EUR", "orders": 3, "revenue": 130.0},
                                           {"currency": "USD", "orders": 1, "revenue": 15.0}]
    day = next(d for d in body["timeseries"] if d["date"] == "2026-03-02")
    assert (day["orders"], day["revenue"]) == (3, 130.0)
    # Visitors, sessions and bounces do not depend on how money is counted.
    assert (body["sessions"], body["pageviews"]) == (5, 5)


def test_overview_before_confirmations_has_no_reconciliation(runtime, new_site, journeys):
    site = new_site()
    journeys_of(site, journeys)
    body = report(runtime, "overview", site)
    assert body["revenue_source"] == "browser" and body["unconfirmed_orders"] is None
    assert body["orders"] == 4 and body["revenue"] == 100.0 + 9999999.0 + 50.0 + 30.0  # EUR only; o6 is USD
    assert body["revenue_by_currency"] == [{"currency": "EUR", "orders": 4, "revenue": 10000179.0},
                                           {"currency": "USD", "orders": 1, "revenue": 15.0}]
