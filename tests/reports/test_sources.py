"""`sources` and `devices` on real chDB, checked against tests/reports/model.py: the same
journeys, sessions and sources computed in plain Python."""

from __future__ import annotations

import pytest

from tests.conftest import BOT_UA, auth
from tests.reports import model
from tracker.reports.devices import shape as devices_shape

RANGE = {"from": "2026-03-01", "to": "2026-03-05"}


@pytest.fixture(scope="module")
def shop(runtime):
    """One site with the model's journeys (and a crawler only `traffic=all` shows)."""
    from tests.conftest import journey_rows
    site = f"src-{id(runtime) % 100000}"
    runtime.sites.add(site, ["https://shop.example"])
    spec = model.shop_journeys(seed=7)
    runtime.storage.insert_jsonl("events", journey_rows(site, spec, runtime=runtime))
    runtime.storage.insert_jsonl("events", journey_rows(site, {"crawler": [("pageview", "/", 10, {"ref": "https://spam.example/"})]}, ua=BOT_UA, runtime=runtime))
    return site, model.sessions(spec)


def test_sources_match_the_model(report, shop):
    site, sessions = shop
    got = {r["source"]: r for r in report("sources", site, **RANGE)["rows"]}
    want = model.by(sessions, "source")
    assert set(got) == set(want)
    assert "shop.example" not in got and "spam.example" not in got
    for source, w in want.items():
        g = got[source]
        assert {k: g[k] for k in ("visitors", "sessions", "pageviews", "orders")} == {k: w[k] for k in ("visitors", "sessions", "pageviews", "orders")}, source
        assert g["bounce_rate"] == pytest.approx(w["bounce_rate"]) and g["revenue"] == pytest.approx(w["revenue"]), source
    assert {"newsletter", "google", "www.google.com", "news.ycombinator.com", "(direct)"} <= set(got)


def test_bots_only_with_all_traffic(report, shop):
    site, _ = shop
    assert "spam.example" in {r["source"] for r in report("sources", site, traffic="all", **RANGE)["rows"]}


def test_devices_match_the_model(report, shop):
    site, sessions = shop
    out = report("devices", site, **RANGE)
    for dim in ("device", "browser", "os"):
        got = {r["value"]: r for r in out[dim]}
        want = model.by(sessions, dim)
        assert set(got) == set(want), dim
        for value, w in want.items():
            assert (got[value]["visitors"], got[value]["sessions"], got[value]["orders"]) == (w["visitors"], w["sessions"], w["orders"])
            assert got[value]["bounce_rate"] == pytest.approx(w["bounce_rate"]) and got[value]["revenue"] == pytest.approx(w["revenue"])


def test_own_hosts_and_page_host_are_not_sources(journeys, new_site, report):
    site = journeys(new_site("https://shop.example", "https://blog.shop.example:8443"), {
        "a": [("pageview", "/", 0, {"ref": "https://blog.shop.example/post"})],  # a registered origin
        "b": [("pageview", "/", 0, {"url": "https://m.shop.example/", "ref": "https://m.shop.example/x"})],  # the page's own host
        "c": [("pageview", "/", 0, {"ref": "https://duckduckgo.com/"})],
        # the source is the first pageview's referrer, not a later one
        "d": [("pageview", "/", 0), ("pageview", "/p", 60, {"ref": "https://bing.com/"})],
    })
    got = {r["source"]: r["sessions"] for r in report("sources", site)["rows"]}
    assert got == {"(direct)": 3, "duckduckgo.com": 1}


def test_http_and_limit(client, marketer_token, shop):
    site, sessions = shop
    r = client.get("/api/reports/sources", params={"site": site, **RANGE, "limit": "2"}, headers=auth(marketer_token))
    assert r.status_code == 200
    rows = r.json()["rows"]
    assert len(rows) == 2 and set(rows[0]) >= {"source", "visitors", "sessions", "bounce_rate", "orders", "revenue"}
    want = sorted(model.by(sessions, "source").items(), key=lambda kv: (-kv[1]["visitors"], -kv[1]["sessions"], kv[0]))
    assert [row["source"] for row in rows] == [k for k, _ in want[:2]]
    d = client.get("/api/reports/devices", params={"site": site, **RANGE}, headers=auth(marketer_token))
    assert d.status_code == 200 and set(d.json()) >= {"device", "browser", "os"}


def test_devices_shape_names_unknown_values():
    out = devices_shape([{"dimension": "os", "value": "", "visitors": 1, "sessions": 2, "bounces": 1, "orders": 0, "revenue": 0}])
    assert out["os"] == [{"value": "(unknown)", "visitors": 1, "sessions": 2, "bounce_rate": 0.5, "orders": 0, "revenue": 0.0}]
    assert out["device"] == [] and out["browser"] == []
