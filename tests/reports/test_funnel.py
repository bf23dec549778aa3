import json

import pytest

from tests.conftest import BOT_UA
from tests.reports.conftest import RANGE
from tracker.errors import BadRequest
from tracker.reports import _sql
from tracker.reports.funnel import Step, parse_steps, shape
from tracker.reports.params import parse_scope
from tracker.reports.routes import REPORTS
from tracker.reports.runner import Context, parse

MOBILE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
SHOP = [{"type": "pageview", "path": "/p/*"}, {"type": "add_to_cart"}, {"type": "purchase"}]


def steps(spec) -> str:
    return json.dumps(spec)


@pytest.fixture
def shop_site(journeys, new_site):
    return journeys(new_site(), {
        "f1": [("pageview", "/p/1", 0), ("add_to_cart", "/p/1", 100), ("purchase", ("o1", 20), 3600)],  # exactly the window
        "f2": [("pageview", "/p/2", 0), ("add_to_cart", "/p/2", 50), ("purchase", ("o2", 20), 3601)],  # one second over
        "f3": [("add_to_cart", "/p/1", 0), ("pageview", "/p/1", 10), ("purchase", ("o3", 20), 20)],  # out of order
        "f4": [("pageview", "/", 0)],  # never starts
        # first chain too slow; a later product view starts a chain that completes
        "f5": [("pageview", "/p/1", 0), ("pageview", "/p/3", 4000), ("add_to_cart", "/p/3", 4100), ("purchase", ("o5", 20), 7000)],
        # a duplicated add_to_cart delivery counts once and changes nothing
        "f6": [("pageview", "/p/9?ref=mail", 0), ("add_to_cart", "/p/9", 30, {"id": "dup-cart"}), ("add_to_cart", "/p/9", 30, {"id": "dup-cart"})],
    })


def test_window_edges_order_and_restart(shop_site, report):
    out = report("funnel", shop_site, steps=steps(SHOP), window=3600)
    assert [s["visitors"] for s in out["steps"]] == [5, 4, 2]
    first, second, third = out["steps"]
    assert (first["conversion_from_start"], first["conversion_from_previous"], first["median_seconds_from_previous"]) == (1.0, 1.0, None)
    assert second["conversion_from_start"] == 0.8 and second["conversion_from_previous"] == 0.8
    assert third["conversion_from_start"] == 0.4 and third["conversion_from_previous"] == 0.5
    assert second["median_seconds_from_previous"] == 75.0  # gaps 100, 50, 100 (f5's second chain), 30
    assert third["median_seconds_from_previous"] == (3500 + 2900) / 2
    assert [s["step"] for s in out["steps"]] == [1, 2, 3] and out["window"] == 3600


def test_window_one_second_longer_lets_f2_convert(shop_site, report):
    out = report("funnel", shop_site, steps=steps(SHOP), window=3601)
    assert [s["visitors"] for s in out["steps"]] == [5, 4, 3]


def test_levels_match_clickhouse_window_funnel(shop_site, runtime, storage):
    """With steps no event can match twice, the fold agrees with windowFunnel itself."""
    got = storage.dicts(f"""
        SELECT level, count() AS visitors FROM (
            SELECT vid, windowFunnel({{w:UInt64}})(toUInt64(toUnixTimestamp64Milli(ts)),
                type = 'pageview' AND startsWith(path, '/p/'), type = 'add_to_cart', type = 'purchase') AS level
            FROM ({_sql.events(True)}) GROUP BY vid)
        GROUP BY level ORDER BY level""", Context(storage, parse_scope({"site": shop_site, **RANGE}), runtime.trust).bind(w=3_600_000))
    by_level = {r["level"]: r["visitors"] for r in got}
    reached = [sum(v for lvl, v in by_level.items() if lvl >= k) for k in (1, 2, 3)]
    assert reached == [5, 4, 2]


def test_repeated_steps_need_separate_events(journeys, new_site, report):
    site = journeys(new_site(), {
        "r1": [("pageview", "/p/1", 0)],
        "r2": [("pageview", "/p/1", 0), ("pageview", "/p/2", 10)],
        "r3": [("pageview", "/p/1", 0), ("pageview", "/p/1", 5)],
        "r4": [("pageview", "/p/1", 0, {"id": "twice"}), ("pageview", "/p/1", 0, {"id": "twice"})],  # one event, delivered twice
    })
    out = report("funnel", site, steps=steps([{"type": "pageview", "path": "/p/*"}] * 2), window=60)
    assert [s["visitors"] for s in out["steps"]] == [4, 2]
    assert out["steps"][1]["median_seconds_from_previous"] == 7.5


def test_same_millisecond_events_chain_in_step_order(journeys, new_site, report):
    site = journeys(new_site(), {"v": [("checkout", "/checkout", 0), ("pageview", "/cart", 0)]})
    out = report("funnel", site, steps=steps([{"type": "pageview", "path": "/cart"}, {"type": "checkout"}]), window=10)
    assert [s["visitors"] for s in out["steps"]] == [1, 1]
    assert out["steps"][1]["median_seconds_from_previous"] == 0.0


def test_promo_and_custom_name_steps(journeys, new_site, report):
    site = journeys(new_site(), {
        "a": [("promo_view", "SUMMER", 0), ("promo_click", "SUMMER", 2), ("custom", "newsletter_signup", 9)],
        "b": [("promo_view", "SUMMER", 0), ("promo_click", "WINTER", 2), ("custom", "newsletter_signup", 9)],
        "c": [("promo_view", "SUMMER", 0), ("promo_click", "SUMMER", 2), ("custom", "other", 9)],
    })
    spec = [{"type": "promo_view", "promo": "SUMMER"}, {"type": "promo_click", "promo": "SUMMER"}, {"type": "custom", "name": "newsletter_signup"}]
    out = report("funnel", site, steps=steps(spec), window=60)
    assert [s["visitors"] for s in out["steps"]] == [3, 2, 1]


def test_exact_path_vs_prefix(journeys, new_site, report):
    site = journeys(new_site(), {"a": [("pageview", "/p", 0), ("pageview", "/p/1", 1)], "b": [("pageview", "/px", 0), ("pageview", "/p/2", 1)]})
    exact = report("funnel", site, steps=steps([{"type": "pageview", "path": "/p"}, {"type": "pageview", "path": "/p/*"}]), window=10)
    assert [s["visitors"] for s in exact["steps"]] == [1, 1]
    prefix = report("funnel", site, steps=steps([{"type": "pageview", "path": "/p*"}, {"type": "pageview", "path": "/p/*"}]), window=10)
    assert [s["visitors"] for s in prefix["steps"]] == [2, 2]


def test_trusted_vs_all_and_breakdown(journeys, new_site, report):
    site = new_site()
    journeys(site, {"d1": [("pageview", "/p/1", 0), ("add_to_cart", "/p/1", 5)], "d2": [("pageview", "/p/1", 0)]})
    journeys(site, {"m1": [("pageview", "/p/1", 0, {"query": "?utm_source=news"}), ("add_to_cart", "/p/1", 9)]}, ua=MOBILE_UA)
    journeys(site, {"bot": [("pageview", "/p/1", 0), ("add_to_cart", "/p/1", 1)]}, ua=BOT_UA)
    spec = steps(SHOP[:2])
    assert [s["visitors"] for s in report("funnel", site, steps=spec)["steps"]] == [3, 2]
    assert [s["visitors"] for s in report("funnel", site, steps=spec, traffic="all")["steps"]] == [4, 3]
    out = report("funnel", site, steps=spec, breakdown="device")
    assert out["breakdown"]["dimension"] == "device"
    by_device = {r["value"]: [s["visitors"] for s in r["steps"]] for r in out["breakdown"]["rows"]}
    assert by_device == {"desktop": [2, 1], "mobile": [1, 1]}
    assert out["steps"][1]["median_seconds_from_previous"] == 7.0  # overall median over 5 and 9
    by_source = {r["value"]: [s["visitors"] for s in r["steps"]] for r in report("funnel", site, steps=spec, breakdown="utm_source")["breakdown"]["rows"]}
    assert by_source == {"(none)": [2, 1], "news": [1, 1]}


def test_breakdown_by_promo_exposure(journeys, new_site, report):
    site = journeys(new_site(), {
        "e": [("promo_view", "SUMMER", 0, {"variant": "exposed"}), ("pageview", "/p/1", 5), ("purchase", ("o", 5), 10)],
        "h": [("promo_view", "SUMMER", 0, {"variant": "holdout"}), ("pageview", "/p/1", 5)],
        "n": [("pageview", "/p/1", 5)],
    })
    out = report("funnel", site, steps=steps([SHOP[0], SHOP[2]]), breakdown="promo_exposure", promo="SUMMER")
    assert {r["value"]: [s["visitors"] for s in r["steps"]] for r in out["breakdown"]["rows"]} == {"exposed": [1, 1], "holdout": [1, 0], "not_seen": [1, 0]}


def test_injection_in_step_values_is_scoped(journeys, new_site, report):
    site = journeys(new_site(), {"v": [("pageview", "/", 0), ("purchase", ("o", 5), 5)]})
    spec = [{"type": "pageview", "path": "/' OR 1=1 --"}, {"type": "purchase", "promo": "x') OR ('1'='1"}]
    assert [s["visitors"] for s in report("funnel", site, steps=steps(spec))["steps"]] == [0, 0]


@pytest.mark.parametrize("query, message", [
    ({}, "steps is required"),
    ({"steps": "[{"}, "not valid JSON"),
    ({"steps": '{"type": "pageview"}'}, "JSON list"),
    ({"steps": steps([{"type": "pageview"}])}, "2 to 10 steps"),
    ({"steps": steps([{"type": "pageview"}] * 11)}, "2 to 10 steps"),
    ({"steps": steps([{"type": "pageview"}, "purchase"])}, "step 2 must be an object"),
    ({"steps": steps([{"type": "pageview", "colour": "red"}, {"type": "purchase"}])}, "unknown key 'colour'"),
    ({"steps": steps([{"type": "click"}, {"type": "purchase"}])}, "type must be one of"),
    ({"steps": steps([{"path": "/"}, {"type": "purchase"}])}, "type must be one of"),
    ({"steps": steps([{"type": ["pageview"]}, {"type": "purchase"}])}, "type must be one of"),
    ({"steps": steps([{"type": {"a": 1}}, {"type": "purchase"}])}, "type must be one of"),
    ({"steps": "[" * 5000 + "]" * 5000}, "not valid JSON"),
    ({"steps": "[" * 20000}, "at most"),
    ({"steps": steps([{"type": "pageview", "path": "cart"}, {"type": "purchase"}])}, "must start with '/'"),
    ({"steps": steps([{"type": "pageview", "path": "/p/*/x"}, {"type": "purchase"}])}, "only allowed at the end"),
    ({"steps": steps([{"type": "pageview", "path": 5}, {"type": "purchase"}])}, "path must be a string"),
    ({"steps": steps([{"type": "pageview", "promo": ["x"]}, {"type": "purchase"}])}, "promo must be a string"),
    ({"steps": steps(SHOP), "window": "0"}, "window must be between"),
    ({"steps": steps(SHOP), "window": str(91 * 86400)}, "window must be between"),
    ({"steps": steps(SHOP), "window": "1h"}, "window must be a whole number"),
    ({"steps": steps(SHOP), "breakdown": "country"}, "breakdown must be one of"),
    ({"steps": steps(SHOP), "breakdown": "ua_device; DROP TABLE events"}, "breakdown must be one of"),
])
def test_params_are_validated_with_human_messages(query, message):
    with pytest.raises(BadRequest, match=message):
        parse(REPORTS["funnel"], {"site": "shop", **query})


def test_parse_steps_strips_query_from_paths():
    parsed = parse_steps(steps([{"type": "pageview", "path": "/cart?x=1"}, {"type": "purchase"}]))
    assert parsed == (Step("pageview", "/cart"), Step("purchase"))


def test_shape_rates_and_medians():
    spec = (Step("pageview", "/p/*"), Step("add_to_cart"), Step("purchase"))
    out = shape(spec, {"v1": 4, "v2": 2, "v3": 0, "m2": 12.5, "m3": float("nan")})
    assert [(s["visitors"], s["conversion_from_start"], s["conversion_from_previous"], s["median_seconds_from_previous"]) for s in out] == [
        (4, 1.0, 1.0, None), (2, 0.5, 0.5, 12.5), (0, 0.0, 0.0, None)]
    assert out[0]["label"] == "pageview /p/*"
    empty = shape(spec, {})
    assert [(s["visitors"], s["conversion_from_start"], s["conversion_from_previous"]) for s in empty] == [(0, 0.0, 0.0)] * 3


def test_ten_steps(journeys, new_site, report):
    pages = [f"/s{i}" for i in range(1, 11)]
    site = journeys(new_site(), {
        "all": [("pageview", p, i) for i, p in enumerate(pages)],
        "half": [("pageview", p, i * 2) for i, p in enumerate(pages[:5])],
    })
    out = report("funnel", site, steps=steps([{"type": "pageview", "path": p} for p in pages]), window=60)
    assert [s["visitors"] for s in out["steps"]] == [2] * 5 + [1] * 5
    assert [s["median_seconds_from_previous"] for s in out["steps"]] == [None, 1.5, 1.5, 1.5, 1.5] + [1.0] * 5


def test_breakdown_with_visitors_outside_the_funnel(journeys, new_site, report):
    """Visitors with no step event at all (empty timelines) must not break the walk."""
    site = journeys(new_site(), {"in": [("pageview", "/p/1", 0), ("add_to_cart", "/p/1", 5)], "out": [("custom", "hello", 0)], "out2": [("checkout", "/checkout", 0)]})
    out = report("funnel", site, steps=steps(SHOP[:2]), breakdown="browser")
    assert [s["visitors"] for s in out["steps"]] == [1, 1]
    assert [[s["visitors"] for s in r["steps"]] for r in out["breakdown"]["rows"]] == [[1, 1]]
