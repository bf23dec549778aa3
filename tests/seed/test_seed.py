"""tracker seed: realistic mix, ground truth that matches what was stored, speed printed, and
rows identical to what ingest's encode_row builds for the same events."""

import uuid
from datetime import UTC, datetime

from pathlib import Path

import orjson
import pytest

from tests.conftest import auth
from tracker import seed as seeding
from tracker.seed import FRAUD_KINDS, LEAKED_COUPON, seed, write_rows
from tracker.seed import writers as seed_writers
from tracker.seed.confounders import CONFOUNDERS

END_MS = int(datetime(2026, 3, 10, tzinfo=UTC).timestamp() * 1000)


def test_seed_counts_and_ground_truth(runtime, storage, new_site):
    site = new_site()
    result = seed(runtime, site, visitors=1500, days=5, seed=7, end_ms=END_MS)
    print(f"\nseed: {result.events} events in {result.seconds:.2f}s = {result.events_per_second:,.0f} events/s")
    stored = storage.query(
        "SELECT count(), uniqExact(vid), min(ts), max(ts) FROM events FINAL WHERE site = {site:String}", {"site": site}).rows[0]
    assert stored[0] == result.events and stored[1] == result.visitors == 1500
    assert END_MS - 5 * 86_400_000 <= stored[2].timestamp() * 1000 and stored[3].timestamp() * 1000 < END_MS
    humans, bots, fraud = result.humans, result.bots, set(result.fraud)
    assert not (humans & bots or humans & fraud or bots & fraud)
    assert 0.03 < len(bots) / 1500 < 0.08 and 0.01 < len(fraud) / 1500 < 0.06
    assert set(result.fraud.values()) == set(FRAUD_KINDS)
    # the confounders (issue #14): real shoppers who look odd, counted among the humans
    assert set(result.confounders.values()) == set(CONFOUNDERS) and set(result.confounders) <= humans
    assert len(result.confounders) == 8 * 7  # 4 % of 1500, split over eight kinds

    per_visitor = {r["vid"]: r for r in storage.dicts("""
        SELECT vid, max(ua_is_bot) AS bot, max(ua_headless) AS headless, max(env_webdriver) AS webdriver,
               min(vid_signed) AS signed, any(ip_prefix) AS prefix, countIf(type = 'pageview') AS pageviews,
               countIf(type = 'purchase') AS purchases, groupUniqArray(coupon) AS coupons,
               groupUniqArray(utm_medium) AS mediums, groupUniqArray(promo_variant) AS variants
        FROM events FINAL WHERE site = {site:String} GROUP BY vid""", {"site": site})}
    for vid in bots:
        row = per_visitor[vid]
        assert row["bot"] == 1 or (row["headless"] == 1 and row["webdriver"] == 1)
    for vid in humans:
        assert per_visitor[vid]["bot"] == 0 and per_visitor[vid]["signed"] == 1 and per_visitor[vid]["pageviews"] >= 1
    reasons = {kind: [per_visitor[v] for v, k in result.fraud.items() if k == kind] for kind in FRAUD_KINDS}
    assert all(r["signed"] == 0 for r in reasons["unsigned_id"])
    assert all(r["pageviews"] == 0 and r["purchases"] == 1 for r in reasons["purchase_without_pageview"])
    assert len({r["prefix"] for r in reasons["cookie_churn_ip"]}) == 1
    assert all(LEAKED_COUPON in r["coupons"] for r in reasons["coupon_shared"])
    assert any("email" in per_visitor[v]["mediums"] for v in humans)
    assert any("holdout" in per_visitor[v]["variants"] for v in humans)
    assert sum(per_visitor[v]["purchases"] for v in humans) > 10

    again = seed(runtime, new_site(), visitors=1500, days=5, seed=7, end_ms=END_MS)
    assert again.humans == humans and again.bots == bots and again.fraud == result.fraud  # reproducible


def test_admin_seed_route(client, admin_token, marketer_token, new_site, settings):
    site = new_site()
    assert client.post("/api/admin/seed", params={"site": site, "visitors": 10}, headers=auth(marketer_token)).status_code == 403
    assert client.post("/api/admin/seed", params={"site": site, "visitors": "lots"}, headers=auth(admin_token)).status_code == 400
    r = client.post("/api/admin/seed", params={"site": site, "visitors": 50, "days": 2, "seed": 3}, headers=auth(admin_token))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["visitors"] == 50 and body["events"] > 50
    truth = orjson.loads(Path(body["truth_file"]).read_bytes())
    assert len(truth["humans"]) + len(truth["bots"]) + len(truth["fraud"]) == 50


def test_seed_if_empty_seeds_once(runtime, storage, new_site):
    from tracker.seed import seed_if_empty

    site = new_site()
    first = seed_if_empty(runtime, site, visitors=40, days=30)
    assert first is not None and first.visitors == 40
    assert seed_if_empty(runtime, site, visitors=40, days=30) is None
    assert storage.scalar("SELECT uniqExact(vid) FROM events FINAL WHERE site = {site:String}", {"site": site}) == 40


def test_seeded_rows_are_exactly_what_encode_row_builds(runtime, storage, new_site, monkeypatch):
    """The fast writer never calls encode_row per event. Store the same traffic through the
    reference writer (every row built by encode_row, inserted as JSONEachRow like ingest's) into
    a copy of `events`, and compare every column of every event, over several chunks."""
    monkeypatch.setattr(seed_writers, "CHUNK_EVENTS", 3000)
    site = new_site()
    fast = seed(runtime, site, visitors=1500, days=5, seed=11, end_ms=END_MS)
    table = f"seed_reference_{uuid.uuid4().hex[:12]}"
    storage.command(f"CREATE TABLE {table} AS events")
    try:
        reference = write_rows(runtime, site, visitors=1500, days=5, seed=11, end_ms=END_MS,
                               insert=lambda data: storage.insert_jsonl(table, data, what="reference rows"))
        assert (fast.events, fast.humans, fast.bots, fast.fraud) == (reference.events, reference.humans, reference.bots, reference.fraud)
        columns = [r[0] for r in storage.query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'events' ORDER BY position").rows]
        assert "dedup_ver" in columns and len(columns) >= 49  # MATERIALIZED ones included: nothing is left out
        select = f"SELECT {', '.join(columns)} FROM {{table:Identifier}} WHERE site = {{site:String}} ORDER BY event_id"
        stored = storage.query(select, {"table": "events", "site": site}, settings={"max_result_rows": 0}).rows
        expected = storage.query(select, {"table": table, "site": site}, settings={"max_result_rows": 0}).rows
    finally:
        storage.command(f"DROP TABLE IF EXISTS {table}")
    assert len(stored) == len(expected) == fast.events > 3 * 3000
    for got, want in zip(stored, expected):
        diff = {name: (g, w) for name, g, w in zip(columns, got, want) if g != w}
        assert not diff, (got[columns.index("event_id")], diff)
    # The sample covers every kind of value the pools and orders carry.
    rows = [dict(zip(columns, row)) for row in stored]
    assert {r["type"] for r in rows} == {"pageview", "promo_view", "promo_click", "add_to_cart", "checkout", "purchase"}
    assert any(r["vid_signed"] == 0 and r["id_source"] == "client" for r in rows)
    assert any(r["coupon"] == LEAKED_COUPON and r["revenue"] > 0 for r in rows)
    assert any(r["utm_medium"] == "email" for r in rows) and any(r["ref_host"] for r in rows)
    assert {r["env_webdriver"] for r in rows} == {-1, 0, 1} and any(r["ua_is_bot"] for r in rows) and any(r["ua_headless"] for r in rows)
    assert any(r["promo_variant"] == "holdout" for r in rows) and any(r["ip_prefix"].startswith("203.0.113.") for r in rows)


def test_seed_refuses_rows_encode_row_would_build_differently(runtime, new_site, monkeypatch):
    """If encode_row starts writing a column the column writer does not fill, or a pool entry
    changes a column outside its group, seeding fails instead of storing different rows."""
    real = seed_writers.build_row
    monkeypatch.setattr(seed_writers, "build_row", lambda event, ctx, **kw: {**real(event, ctx, **kw), "name": "new"})
    with pytest.raises(AssertionError, match="does not fill"):
        seed(runtime, new_site(), visitors=5, days=1, seed=1, end_ms=END_MS)
    monkeypatch.setattr(seed_writers, "build_row", lambda event, ctx, **kw: {**real(event, ctx, **kw), "ua_os": event.url})
    with pytest.raises(AssertionError, match="pool 'page'"):
        seed(runtime, new_site(), visitors=5, days=1, seed=1, end_ms=END_MS)
