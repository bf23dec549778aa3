"""Money on the overview and the bounce rule of CONTRACT §3, on real chDB, against the plain-Python
model (tests/reports/model.py) and small readable journeys."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from tests.conftest import journey_rows
from tests.reports import model

MIN = 60


def test_orders_revenue_conversion_and_daily_money_match_the_model(runtime, report):
    site = f"money-{id(runtime) % 100000}"
    runtime.sites.add(site, ["https://shop.example"])
    spec = model.shop_journeys(seed=23, visitors=50)
    runtime.storage.insert_jsonl("events", journey_rows(site, spec, runtime=runtime))
    sessions = model.sessions(spec)
    out = report("overview", site, **{"from": "2026-03-01", "to": "2026-03-05"})
    want = model.totals(sessions)
    assert (out["orders"], out["visitors"], out["sessions"]) == (want["orders"], want["visitors"], want["sessions"])
    assert out["revenue"] == pytest.approx(want["revenue"]) and out["bounce_rate"] == pytest.approx(want["bounce_rate"])
    buyers = {s["vid"] for s in sessions if s["orders"]}
    assert out["conversion_rate"] == pytest.approx(len(buyers) / want["visitors"])
    assert out["aov"] == pytest.approx(round(want["revenue"] / want["orders"], 2))
    days = Counter()
    money = Counter()
    for s in sessions:
        for e in s["events"]:
            if e["order"] and e["order"] in s["orders"]:
                day = datetime.fromtimestamp(e["ms"] / 1000, UTC).date().isoformat()
                days[day] += 1
                money[day] += e["order"][1]
    assert {d["date"]: d["orders"] for d in out["timeseries"] if d["orders"]} == dict(days)
    assert {d["date"]: d["revenue"] for d in out["timeseries"] if d["revenue"]} == pytest.approx({d: round(v, 2) for d, v in money.items()})


def test_an_order_sent_again_counts_once_on_its_first_day(journeys, new_site, report):
    site = journeys(new_site(), {
        # the same order id under two event ids (a reload of the thank-you page a day later)
        "a": [("pageview", "/", 0), ("purchase", ("o1", 30.0), 60), ("purchase", ("o1", 30.0), 86400)],
        "b": [("pageview", "/", 0), ("purchase", ("o2", 12.5), 60)],
        "c": [("pageview", "/", 0)],
    })
    out = report("overview", site)
    assert (out["orders"], out["revenue"], out["aov"]) == (2, 42.5, 21.25)
    assert out["conversion_rate"] == pytest.approx(2 / 3)
    assert [(d["date"], d["orders"], d["revenue"]) for d in out["timeseries"]] == [
        ("2026-03-01", 0, 0.0), ("2026-03-02", 2, 42.5), ("2026-03-03", 0, 0.0)]


def test_no_orders_means_no_average_order_value(journeys, new_site, report):
    out = report("overview", journeys(new_site(), {"a": [("pageview", "/", 0)]}))
    assert (out["orders"], out["revenue"], out["aov"], out["conversion_rate"]) == (0, 0.0, None, 0.0)


def test_a_bounce_is_one_pageview_and_no_engagement(journeys, new_site, report):
    site = journeys(new_site(), {
        "view_only": [("pageview", "/", 0), ("promo_view", "SPRING", 5)],  # promo_view is not engagement: a bounce
        "clicked": [("pageview", "/", 0), ("promo_click", "SPRING", 5)],
        "carted": [("pageview", "/p/1", 0), ("add_to_cart", "/p/1", 5)],
        "custom": [("pageview", "/", 0), ("custom", "signup", 5)],
        "bought": [("pageview", "/", 0), ("checkout", "/checkout", 5), ("purchase", ("o9", 5.0), 9)],
        "plain": [("pageview", "/", 0)],  # a bounce
        "two": [("pageview", "/", 0), ("pageview", "/a", 5)],
    })
    out = report("overview", site)
    assert out["sessions"] == 7 and out["bounce_rate"] == pytest.approx(2 / 7)
    sources = report("sources", site)["rows"]
    assert sources[0]["source"] == "(direct)" and sources[0]["bounce_rate"] == pytest.approx(2 / 7)
