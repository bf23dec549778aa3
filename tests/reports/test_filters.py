"""`filter=DIM:VALUE` on real chDB: every report narrowed to the matching sessions, checked
against tests/reports/model.py (the same journeys, sessions and filters in plain Python)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import BOT_UA, auth, journey_rows
from tests.reports import model

RANGE = {"from": "2026-03-01", "to": "2026-03-05"}
FILTERS = [
    [("source", "newsletter")], [("source", "www.google.com")], [("source", "(direct)")], [("utm_medium", "email")],
    [("utm_campaign", "spring")], [("entry", "/p/1")], [("device", "mobile")], [("browser", "Firefox")], [("os", "iOS")],
    [("page", "/cart")], [("device", "desktop"), ("source", "(direct)")], [("page", "/cart"), ("page", "/p/2")],
    [("device", "tablet")],  # nobody: zeros, not an error
]


@pytest.fixture(scope="module")
def shop(runtime):
    site = f"flt-{id(runtime) % 100000}"
    runtime.sites.add(site, ["https://shop.example"])
    spec = model.shop_journeys(seed=11, visitors=60)
    runtime.storage.insert_jsonl("events", journey_rows(site, spec, runtime=runtime))
    runtime.storage.insert_jsonl("events", journey_rows(site, {"crawler": [("pageview", "/cart", 10, {"ref": "https://spam.example/"})]}, ua=BOT_UA, runtime=runtime))
    return site, model.sessions(spec)


def ask(report, site, filters, name, **params):
    return report(name, site, **RANGE, **params, filter=[f"{d}:{v}" for d, v in filters])


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: "+".join(f"{d}:{v}" for d, v in f))
def test_overview_sources_and_pages_follow_the_filter(report, runtime, shop, filters):
    site, sessions = shop
    kept = model.matching(sessions, filters)
    want = model.totals(kept) if kept else {"visitors": 0, "sessions": 0, "pageviews": 0, "bounce_rate": 0.0, "orders": 0, "revenue": 0.0}
    out = ask(report, site, filters, "overview")
    assert out["filters"] == [f"{d}:{v}" for d, v in filters]
    assert {k: out[k] for k in ("visitors", "sessions", "pageviews", "orders")} == {k: want[k] for k in ("visitors", "sessions", "pageviews", "orders")}
    assert out["bounce_rate"] == pytest.approx(want["bounce_rate"]) and out["revenue"] == pytest.approx(want["revenue"])
    buyers = {s["vid"] for s in kept if s["orders"]}
    assert out["conversion_rate"] == pytest.approx(len(buyers) / want["visitors"] if want["visitors"] else 0.0)
    assert sum(d["orders"] for d in out["timeseries"]) == want["orders"]

    sources = {r["source"]: r["sessions"] for r in ask(report, site, filters, "sources")["rows"]}
    assert sources == {k: v["sessions"] for k, v in model.by(kept, "source").items()}

    pages = {r["path"]: {k: r[k] for k in ("pageviews", "visitors", "entries", "exits")} for r in ask(report, site, filters, "pages")["rows"]}
    assert pages == model.page_counts(kept)


def test_campaigns_paths_funnel_devices_and_excluded_are_narrowed(report, shop):
    site, sessions = shop
    email = [("utm_medium", "email")]
    campaigns = ask(report, site, email, "campaigns")["rows"]
    assert [(r["utm_medium"], r["sessions"]) for r in campaigns] == [("email", len(model.matching(sessions, email)))]

    mobile = [("device", "mobile")]
    devices = ask(report, site, mobile, "devices")
    assert [r["value"] for r in devices["device"]] == ["mobile"]

    # Funnel: visitors with a /cart pageview among the filtered sessions reach step 1.
    steps = json.dumps([{"type": "pageview", "path": "/cart"}, {"type": "purchase"}])
    funnel = ask(report, site, mobile, "funnel", steps=steps)["steps"]
    cart_visitors = {s["vid"] for s in model.matching(sessions, mobile) if "/cart" in s["pages"]}
    assert funnel[0]["visitors"] == len(cart_visitors)

    paths = ask(report, site, mobile, "paths", start="/cart")
    assert paths["sessions"] == sum(1 for s in model.matching(sessions, mobile) if "/cart" in s["pages"])

    # The crawler's one session landed on /cart from spam.example.
    assert report("excluded", site, **RANGE, filter=["page:/cart"])["excluded_visitors"] == 1
    assert report("excluded", site, **RANGE, filter=["page:/p/1"])["excluded_visitors"] == 0


def test_http_repeated_filters_and_errors(client, marketer_token, shop):
    site, sessions = shop
    query = [("site", site), *RANGE.items(), ("filter", "device:desktop"), ("filter", "source:(direct)")]
    r = client.get("/api/reports/overview", params=query, headers=auth(marketer_token))
    assert r.status_code == 200
    assert r.json()["sessions"] == len(model.matching(sessions, [("device", "desktop"), ("source", "(direct)")]))
    assert r.json()["filters"] == ["device:desktop", "source:(direct)"]
    for bad, words in [("country:fr", "DIM one of"), ("nocolon", "DIM:VALUE"), ("page:/a\x01", "printable")]:
        r = client.get("/api/reports/sources", params={"site": site, "filter": bad}, headers=auth(marketer_token))
        assert r.status_code == 400 and words in r.json()["error"], bad
    # A value is a bound parameter: SQL in it is just a value nobody has.
    r = client.get("/api/reports/pages", params={"site": site, **RANGE, "filter": "source:x' OR 1=1 --"}, headers=auth(marketer_token))
    assert r.status_code == 200 and r.json()["rows"] == []
    # Upper case in a source is the lower-case source ingest stored.
    r = client.get("/api/reports/overview", params={"site": site, **RANGE, "filter": "source:Newsletter"}, headers=auth(marketer_token))
    assert r.json()["sessions"] == len(model.matching(sessions, [("source", "newsletter")]))
