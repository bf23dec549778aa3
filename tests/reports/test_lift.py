"""`lift` on real chDB: groups by the visitor's first view of the promo, converters after it.

Exposed: 99 visitors see L (20 of them buy afterwards) + "early" who bought BEFORE seeing it
          -> 100 visitors, 20 converters.
Holdout: 99 visitors see L as holdout (9 buy) + "switch" whose first view was holdout and a
          later one exposed, then bought -> 100 visitors, 10 converters.
Noise:   a visitor of another promo who buys; a crawler who sees L and buys (traffic=all only);
          a purchase event delivered twice.
"""

from __future__ import annotations

import pytest

from tests.conftest import BOT_UA, auth
from tracker.reports import stats
from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute

RANGE = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def site(journeys, new_site):
    spec: dict[str, list[tuple]] = {}
    for i in range(99):
        spec[f"e{i}"] = [("promo_view", "L", i, {"variant": "exposed"} if i % 2 else {})]
        if i < 20:
            spec[f"e{i}"].append(("purchase", (f"oe{i}", 20.0), 1000 + i, {"id": f"buy-e{i}"}))
        spec[f"h{i}"] = [("promo_view", "L", i, {"variant": "holdout"})]
        if i < 9:
            spec[f"h{i}"].append(("purchase", (f"oh{i}", 20.0), 1000 + i))
    spec["e0"].append(("purchase", ("oe0", 20.0), 1000, {"id": "buy-e0"}))  # the duplicate
    spec["early"] = [("purchase", ("o-early", 5.0), 0), ("promo_view", "L", 100)]
    spec["switch"] = [("promo_view", "L", 0, {"variant": "holdout"}), ("promo_view", "L", 100, {"variant": "exposed"}),
                      ("purchase", ("o-switch", 9.0), 200)]
    spec["other"] = [("promo_view", "M", 0), ("purchase", ("o-other", 9.0), 50)]
    name = journeys(new_site(), spec)
    journeys(name, {"crawler": [("promo_view", "L", 0), ("purchase", ("o-bot", 1.0), 10)]}, ua=BOT_UA)
    return name


def run(runtime, site, **query):
    return execute(runtime, REPORTS["lift"], {"site": site, **RANGE, "promo": "L", **query})


def test_groups_and_statistics(runtime, site):
    got = run(runtime, site)
    assert got["promo_id"] == "L" and got["method"] == stats.METHOD
    assert got["exposed"] == {"visitors": 100, "converters": 20, "conversion_rate": 0.2}
    assert got["holdout"] == {"visitors": 100, "converters": 10, "conversion_rate": 0.1}
    assert got["absolute_lift"] == pytest.approx(0.1) and got["relative_lift"] == pytest.approx(1.0)
    # 20/100 vs 10/100: pooled p = .15, z = .1 / sqrt(.15 * .85 * .02) = 1.9803, p = 0.0477;
    # Wald SE = sqrt(.0016 + .0009) = .05, CI = .1 +- .098.
    assert got["p_value"] == pytest.approx(0.04767, abs=1e-5)
    assert got["ci_low"] == pytest.approx(0.1 - 1.959963984540054 * 0.05) and got["ci_high"] == pytest.approx(0.1 + 1.959963984540054 * 0.05)
    assert got["significant"] is True and got["verdict"] == "lifts conversion by 10.0 pp"


def test_traffic_all_counts_the_crawler(runtime, site):
    got = run(runtime, site, traffic="all")
    assert got["exposed"]["visitors"] == 101 and got["exposed"]["converters"] == 21


def test_range_cuts_purchases(runtime, site):
    # Before the range starts nobody has a view: nothing to compare.
    got = run(runtime, site, **{"from": "2026-02-01", "to": "2026-02-28"})
    assert got["exposed"]["visitors"] == 0 and got["verdict"] == "not enough data" and got["p_value"] is None


def test_unknown_promo(runtime, site):
    got = run(runtime, site, promo="nope' OR '1'='1")
    assert got["exposed"]["visitors"] == 0 and got["holdout"]["visitors"] == 0 and got["verdict"] == "not enough data"


def test_http(client, marketer_token, site):
    r = client.get("/api/reports/lift", params={"site": site, **RANGE, "promo": "L"}, headers=auth(marketer_token))
    assert r.status_code == 200
    body = r.json()
    for field in ("promo_id", "method", "exposed", "holdout", "absolute_lift", "relative_lift", "ci_low", "ci_high", "p_value", "significant", "verdict"):
        assert field in body
    assert body["holdout"]["converters"] == 10


@pytest.mark.parametrize(("query", "message"), [
    ({}, "promo is required"),
    ({"promo": ""}, "promo is required"),
    ({"promo": "x" * 201}, "promo must be"),
    ({"promo": "a\nb"}, "promo must be"),
    ({"promo": "L", "traffic": "bots"}, "traffic must be"),
    ({"promo": "L", "from": "2026-13-01"}, "from must be"),
])
def test_bad_params(client, marketer_token, site, query, message):
    r = client.get("/api/reports/lift", params={"site": site, **RANGE, **query}, headers=auth(marketer_token))
    assert r.status_code == 400 and message in r.json()["error"]
