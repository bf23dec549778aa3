"""Marketers see aggregates only: a scan of every marketer-accessible response finds no
visitor id, IP prefix, IP hash or address of the visitors behind the figures."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import auth
from tracker.auth.gate import roles_for
from tracker.reports.funnel import BREAKDOWNS as FUNNEL_BREAKDOWNS
from tracker.reports.promotions import BREAKDOWNS as PROMO_BREAKDOWNS
from tracker.reports.routes import REPORTS
from tracker.routing import all_routes

IPS = ["203.0.113.77", "198.51.100.23", "2001:db8:abcd:12::7"]
STEPS = '[{"type": "pageview", "path": "/"}, {"type": "promo_click"}, {"type": "purchase"}]'
VARIANTS = {
    "paths": [{"start": "/"}, {"start": "/product", "depth": "4"}],
    "funnel": [{"steps": STEPS}] + [{"steps": STEPS, "breakdown": b} for b in sorted(FUNNEL_BREAKDOWNS)],
    "promotions": [{"model": m} for m in ("last_click", "first_click", "linear", "time_decay", "position")] + [{"by": b} for b in sorted(PROMO_BREAKDOWNS)],
    "lift": [{"promo": "SCANPROMO"}],
}


@pytest.fixture(scope="module")
def shop(runtime):
    from tests.conftest import journey_rows

    site = f"scan-{uuid.uuid4().hex[:6]}"
    runtime.sites.add(site, ["https://shop.example"])
    vids = [f"scanvid{uuid.uuid4().hex[:10]}" for _ in range(6)]
    spec = {}
    for i, vid in enumerate(vids):
        spec[vid] = [
            ("pageview", "/", i, {"query": "?utm_source=news&utm_medium=email&utm_campaign=spring", "ip": IPS[i % 3]}),
            ("promo_view", "SCANPROMO", i + 2, {"variant": "holdout" if i % 2 else "exposed", "ip": IPS[i % 3]}),
            ("promo_click", "SCANPROMO", i + 5, {"ip": IPS[i % 3]}),
            ("pageview", "/product", i + 9, {"ip": IPS[i % 3]}),
            ("purchase", (f"order-{i}", 10.0 + i), i + 30, {"coupon": "SCAN10", "ip": IPS[i % 3]}),
        ]
    runtime.storage.insert_jsonl("events", journey_rows(site, spec, runtime=runtime))
    secrets = set(vids) | set(IPS)
    for row in runtime.storage.dicts("SELECT DISTINCT ip_prefix, ip_hash, sid FROM events WHERE site = {s:String}", {"s": site}):
        secrets |= {v for v in (row["ip_prefix"], row["ip_hash"], row["sid"]) if v}
    secrets |= {p.split("/")[0] for p in list(secrets) if "/" in p}  # the network address alone
    return site, vids, secrets


def _marketer_requests(site: str):
    base = {"site": site, "from": "2026-03-01", "to": "2026-03-03"}
    for route in all_routes():
        path = getattr(route, "path", "")
        roles = roles_for(path)
        if roles is None or "marketer" not in roles or "GET" not in (getattr(route, "methods", None) or ()):
            continue
        names = list(REPORTS) if "{name}" in path else [None]
        for name in names:
            url = path.replace("{name}", name) if name else path
            variants = VARIANTS.get(name, [{}])
            yield url, {**base, "traffic": "trusted", **variants[0]}
            for extra in variants:  # every variant once, on all traffic (the bigger population)
                yield url, {**base, "traffic": "all", **extra}


def test_no_marketer_response_names_a_visitor_or_network(client, shop, marketer_token):
    site, vids, secrets = shop
    checked = 0
    for url, params in _marketer_requests(site):
        r = client.get(url, params=params, headers=auth(marketer_token))
        assert r.status_code == 200, (url, params, r.text[:200])
        found = [s for s in secrets if s in r.text]
        assert not found, (url, params, found)
        checked += 1
    assert checked >= len(REPORTS) * 2


def test_the_scan_would_see_a_leak(client, shop, admin_token):
    """Control: the same secrets are found where they belong (an admin's export)."""
    site, vids, secrets = shop
    r = client.get(f"/api/privacy/visitors/{vids[0]}", headers=auth(admin_token))
    assert vids[0] in r.text and any(ip_part in r.text for ip_part in secrets - set(vids))


def test_reports_had_data_to_leak(client, shop, marketer_token):
    site, vids, _ = shop
    body = client.get("/api/reports/overview", params={"site": site, "from": "2026-03-01", "to": "2026-03-03", "traffic": "all"}, headers=auth(marketer_token)).json()
    assert body["visitors"] == len(vids)
