"""`promotions` on real chDB: exact figures per attribution model for readable journeys.

The shop (lookback 7 days unless said otherwise, all on 2026-03-02 = T0 and after):
  v1  views A, clicks A (+10 s), views B, clicks B (+1 h), buys o1 100.00 at +2 h
  v2  clicks A at T0, clicks C at +9 d, buys o2 50.00 at +10 d (A outside a 7-day lookback)
  v3  views A, buys o3 30.00 with coupon SPRING (no click: counted nowhere but coupons)
  v4  views A (exposed), clicks A twice with ONE event id, buys o4 19.99 with coupon spring
      (its purchase event delivered twice with one id)
  v5  clicks A, B, A, C (one minute apart), buys o5 10.00 a minute after the last click
  v6  sees A as holdout
  bot clicks A and buys o7 1000.00 with a crawler user agent (only with traffic=all)
"""

from __future__ import annotations

import math

import pytest

from tests.conftest import BOT_UA, auth
from tracker.reports.attribution import decay_weight
from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute

DAY = 86400
RANGE = {"from": "2026-03-01", "to": "2026-03-31"}


def shop(journeys, site: str) -> str:
    journeys(site, {
        "v1": [("pageview", "/", 0), ("promo_view", "A", 5, {"name": "Spring sale", "creative": "banner", "slot": "hero"}),
               ("promo_click", "A", 10, {"creative": "banner", "slot": "hero"}),
               ("promo_view", "B", 100, {"creative": "tile", "slot": "side"}),
               ("promo_click", "B", 3600, {"creative": "tile", "slot": "side"}),
               ("purchase", ("o1", 100.0), 7200)],
        "v2": [("promo_click", "A", 0, {"creative": "banner", "slot": "hero"}),
               ("promo_click", "C", 9 * DAY), ("purchase", ("o2", 50.0), 10 * DAY)],
        "v3": [("promo_view", "A", 0, {"creative": "banner", "slot": "hero"}), ("purchase", ("o3", 30.0), 60, {"coupon": "SPRING"})],
        "v4": [("promo_view", "A", 0, {"variant": "exposed", "creative": "mail", "slot": "hero"}),
               ("promo_click", "A", 20, {"id": "v4-click", "creative": "mail", "slot": "hero"}),
               ("promo_click", "A", 20, {"id": "v4-click", "creative": "mail", "slot": "hero"}),
               ("purchase", ("o4", 19.99), 50, {"id": "v4-buy", "coupon": "spring"}),
               ("purchase", ("o4", 19.99), 50, {"id": "v4-buy", "coupon": "spring"})],
        "v5": [("promo_click", "A", 0), ("promo_click", "B", 60), ("promo_click", "A", 120),
               ("promo_click", "C", 180), ("purchase", ("o5", 10.0), 240)],
        "v6": [("promo_view", "A", 0, {"variant": "holdout"})],
    })
    journeys(site, {"bot": [("promo_click", "A", 0), ("purchase", ("o7", 1000.0), 30)]}, ua=BOT_UA)
    return site


@pytest.fixture
def site(journeys, new_site, storage):
    name = shop(journeys, new_site())
    storage.command(
        "INSERT INTO promos (site, promo_id, name, holdout_pct, coupons, created_at, updated_at) "
        "VALUES ({site:String}, 'A', 'Spring sale 2026', 10, ['SPRING'], now64(3), now64(3))",
        {"site": name},
    )
    return name


def report(runtime, site: str, **query) -> dict:
    return execute(runtime, REPORTS["promotions"], {"site": site, **RANGE, **query})


def by_promo(result: dict) -> dict[str, dict]:
    return {r["promo_id"]: r for r in result["rows"]}


def attributed(result: dict) -> dict[str, tuple[float, float]]:
    return {p: (round(r["attributed_conversions"], 9), r["attributed_revenue"]) for p, r in by_promo(result).items()}


def test_exposure_and_conversions(runtime, site):
    rows = by_promo(report(runtime, site))
    a, b, c = rows["A"], rows["B"], rows["C"]
    assert (a["impressions"], a["viewers"], a["clicks"], a["holdout_impressions"]) == (3, 3, 5, 1)
    assert (b["impressions"], b["viewers"], b["clicks"]) == (1, 1, 2)
    assert (c["impressions"], c["viewers"], c["clicks"], c["ctr"]) == (0, 0, 2, None)
    assert a["ctr"] == pytest.approx(5 / 3) and b["ctr"] == 2.0
    # o1, o4, o5 for A (o2's click on A is 10 days old); o1, o5 for B; o2, o5 for C.
    assert (a["conversions"], a["revenue"]) == (3, 129.99)
    assert (b["conversions"], b["revenue"]) == (2, 110.0)
    assert (c["conversions"], c["revenue"]) == (2, 60.0)
    assert a["conversion_rate"] == pytest.approx(3 / 5) and a["aov"] == 43.33
    assert a["revenue_per_1000_impressions"] == 43330.0
    assert a["promo_name"] == "Spring sale 2026" and b["promo_name"] == ""
    assert (a["coupon_redemptions"], a["coupon_revenue"]) == (2, 49.99)
    assert (b["coupon_redemptions"], c["coupon_redemptions"]) == (0, 0)


@pytest.mark.parametrize(("model", "expected"), [
    ("last_click", {"A": (1, 19.99), "B": (1, 100.0), "C": (2, 60.0)}),
    ("first_click", {"A": (3, 129.99), "B": (0, 0.0), "C": (1, 50.0)}),
    ("position", {"A": (1.9, 73.99), "B": (0.7, 52.0), "C": (1.4, 54.0)}),
])
def test_models_exact(runtime, site, model, expected):
    result = report(runtime, site, model=model)
    assert attributed(result) == expected
    assert result["model"] == model


def test_linear_splits_over_distinct_promos(runtime, site):
    got = attributed(report(runtime, site, model="linear"))
    # o1 halves between A and B; o5 thirds over A, B, C although A was clicked twice.
    assert got["A"][0] == pytest.approx(0.5 + 1 + 1 / 3)
    assert got["B"][0] == pytest.approx(0.5 + 1 / 3)
    assert got["C"][0] == pytest.approx(1 + 1 / 3)
    exact = {"A": 50 + 19.99 + 10 / 3, "B": 50 + 10 / 3, "C": 50 + 10 / 3}
    for promo, value in exact.items():
        assert abs(got[promo][1] - value) < 0.01
    assert round(sum(v[1] for v in got.values()), 2) == 179.99


def test_time_decay_weights_each_click(runtime, site):
    half = 7 * DAY

    def shares(ages: dict[str, list[float]]) -> dict[str, float]:
        weights = {p: sum(decay_weight(a, 7) for a in clicks) for p, clicks in ages.items()}
        total = sum(weights.values())
        return {p: w / total for p, w in weights.items()}

    o1 = shares({"A": [7190], "B": [3600]})
    o5 = shares({"A": [240, 120], "B": [180], "C": [60]})
    expected = {
        "A": (o1["A"] + 1 + o5["A"], 100 * o1["A"] + 19.99 + 10 * o5["A"]),
        "B": (o1["B"] + o5["B"], 100 * o1["B"] + 10 * o5["B"]),
        "C": (1 + o5["C"], 50 + 10 * o5["C"]),
    }
    assert math.isclose(o1["B"], 2 ** (-3600 / half) / (2 ** (-3600 / half) + 2 ** (-7190 / half)))
    got = by_promo(report(runtime, site, model="time_decay"))
    for promo, (conv, revenue) in expected.items():
        assert got[promo]["attributed_conversions"] == pytest.approx(conv, abs=1e-9)
        assert abs(got[promo]["attributed_revenue"] - revenue) <= 0.01
    # A shorter half-life moves credit towards the latest clicks.
    fast = by_promo(report(runtime, site, model="time_decay", half_life_days="0.01"))
    assert fast["B"]["attributed_conversions"] > got["B"]["attributed_conversions"]


@pytest.mark.parametrize("model", ["last_click", "first_click", "linear", "time_decay", "position"])
@pytest.mark.parametrize("lookback", ["1", "14"])
def test_attribution_adds_up(runtime, site, model, lookback):
    result = report(runtime, site, model=model, lookback_days=lookback)
    rows = result["rows"]
    totals = result["totals"]
    assert totals["purchases"] == 5 and totals["revenue"] == 209.99
    assert totals["attributed_purchases"] == 4 and totals["attributed_revenue"] == 179.99
    assert sum(r["attributed_conversions"] for r in rows) == pytest.approx(4, abs=1e-9)
    assert round(sum(r["attributed_revenue"] for r in rows), 2) == 179.99
    assert all(r["attributed_revenue"] == round(r["attributed_revenue"], 2) for r in rows)


def test_lookback_bounds(runtime, site):
    wide = by_promo(report(runtime, site, lookback_days="14", model="first_click"))
    # o2 now also reaches back to v2's click on A ten days earlier, and A clicked first.
    assert (wide["A"]["conversions"], wide["A"]["revenue"]) == (4, 179.99)
    assert attributed({"rows": list(wide.values())})["C"] == (0, 0.0)


def test_traffic_all_includes_bots(runtime, site):
    everyone = report(runtime, site, traffic="all")
    assert by_promo(everyone)["A"]["clicks"] == 6
    assert everyone["totals"]["attributed_purchases"] == 5 and everyone["totals"]["revenue"] == 1209.99
    assert by_promo(everyone)["A"]["attributed_revenue"] == 1019.99


def test_range_limits(runtime, site):
    # Only T0's day: o2 (day 10) and the clicks of v2 on day 9 are out of range.
    rows = by_promo(report(runtime, site, **{"from": "2026-03-02", "to": "2026-03-02"}))
    assert rows["C"]["clicks"] == 1 and rows["C"]["conversions"] == 1 and rows["A"]["clicks"] == 5


def test_breakdown_by_creative(runtime, site):
    result = report(runtime, site, by="creative", model="last_click")
    rows = {(r["promo_id"], r["creative"]): r for r in result["rows"]}
    assert rows[("A", "banner")]["impressions"] == 2 and rows[("A", "mail")]["impressions"] == 1
    assert rows[("A", "mail")]["attributed_revenue"] == 19.99 and rows[("A", "mail")]["clicks"] == 1
    assert rows[("A", "banner")]["clicks"] == 2 and rows[("A", "")]["clicks"] == 2
    assert rows[("A", "banner")]["coupon_redemptions"] is None
    assert round(sum(r["attributed_revenue"] for r in result["rows"]), 2) == 179.99
    slots = {(r["promo_id"], r["slot"]) for r in report(runtime, site, by="slot")["rows"]}
    assert ("A", "hero") in slots and ("B", "side") in slots


def test_empty_site(runtime, new_site):
    result = report(runtime, new_site())
    assert result["rows"] == [] and result["totals"] == {"purchases": 0, "revenue": 0.0, "attributed_purchases": 0, "attributed_revenue": 0.0}


@pytest.mark.parametrize(("query", "message"), [
    ({"model": "shapley"}, "model must be one of"),
    ({"model": "last_click' OR 1=1 --"}, "model must be one of"),
    ({"lookback_days": "0"}, "lookback_days must be between 1 and 90"),
    ({"lookback_days": "91"}, "lookback_days must be between 1 and 90"),
    ({"lookback_days": "7; DROP TABLE events"}, "lookback_days must be a whole number"),
    ({"half_life_days": "nan"}, "half_life_days must be"),
    ({"half_life_days": "-1"}, "half_life_days must be"),
    ({"half_life_days": "abc"}, "half_life_days must be"),
    ({"by": "promo_id); DROP TABLE events; --"}, "by must be one of"),
    ({"by": "vid"}, "by must be one of"),
])
def test_bad_params_are_400(client, marketer_token, site, query, message):
    r = client.get("/api/reports/promotions", params={"site": site, **RANGE, **query}, headers=auth(marketer_token))
    assert r.status_code == 400 and message in r.json()["error"]


def test_http(client, marketer_token, site):
    r = client.get("/api/reports/promotions", params={"site": site, **RANGE, "model": "position"}, headers=auth(marketer_token))
    assert r.status_code == 200
    rows = {row["promo_id"]: row for row in r.json()["rows"]}
    assert rows["A"]["attributed_revenue"] == 73.99 and rows["A"]["impressions"] == 3
    for field in ("promo_id", "impressions", "viewers", "clicks", "ctr", "conversions", "revenue", "attributed_conversions", "attributed_revenue"):
        assert field in rows["A"]
    assert client.get("/api/reports/promotions", params={"site": site}).status_code == 401
    # A site id carrying SQL is refused, not run.
    r = client.get("/api/reports/promotions", params={"site": "x' OR '1'='1", **RANGE}, headers=auth(marketer_token))
    assert r.status_code in (400, 404)

