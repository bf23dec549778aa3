"""Every report and every trust listing answers the same JSON on the embedded engine, on one
ClickHouse server node (as the least-privilege users) and on a cluster of two shards.

One synthetic shop (bots, fraud, coupons, holdouts) is encoded once and the same rows are
stored in all three. Each question is asked over the real HTTP API of an app on each backend
and the full answers are compared; then the trust signals of the closed days are
materialised on each backend and every question is asked again (reports then read the day
partials instead of computing them live).

On the cluster each report's per-visitor level runs on the shards (`tracker.storage.shards`):
node 2's query log shows what it sent for each report (its non-initial queries, tagged with the
report's `log_comment`), far fewer rows than the events it holds.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.clickhouse import api
from tracker.reports.routes import REPORTS
from tracker.reports.trust.routes import routes as trust_routes
from tracker.seed import register_promotions, write_rows

DAYS = 6
VISITORS = 300
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
END_MS = int(TODAY.timestamp() * 1000)  # closed days only: the job materialises all of them
FROM, TO = (TODAY - timedelta(days=DAYS)).date().isoformat(), (TODAY - timedelta(days=1)).date().isoformat()
FUNNEL = json.dumps([{"type": "pageview", "path": "/c/*"}, {"type": "add_to_cart"}, {"type": "purchase"}])


def questions(site: str, vids: list[str]) -> list[tuple[str, dict]]:
    r = {"site": site, "from": FROM, "to": TO}
    asked = [
        ("/api/reports/overview", r), ("/api/reports/overview", {**r, "traffic": "all"}),
        ("/api/reports/overview", {**r, "tz": "America/New_York"}),
        ("/api/reports/pages", r), ("/api/reports/pages", {**r, "traffic": "all", "limit": "5"}),
        ("/api/reports/paths", {**r, "start": "/"}), ("/api/reports/paths", {**r, "start": "/cart", "depth": "2", "traffic": "all"}),
        ("/api/reports/funnel", {**r, "steps": FUNNEL}), ("/api/reports/funnel", {**r, "steps": FUNNEL, "window": "600", "traffic": "all"}),
        *[("/api/reports/funnel", {**r, "steps": FUNNEL, "breakdown": b}) for b in ("utm_source", "promo_exposure")],
        *[("/api/reports/promotions", {**r, "model": m}) for m in ("last_click", "time_decay", "position")],
        ("/api/reports/promotions", {**r, "by": "creative", "traffic": "all"}), ("/api/reports/promotions", {**r, "by": "slot"}),
        ("/api/reports/campaigns", r), ("/api/reports/campaigns", {**r, "traffic": "all"}),
        ("/api/reports/sources", r), ("/api/reports/sources", {**r, "traffic": "all", "tz": "Asia/Tokyo"}),
        ("/api/reports/devices", r), ("/api/reports/devices", {**r, "limit": "2"}),
        ("/api/reports/overview", {**r, "filter": "device:desktop"}), ("/api/reports/pages", {**r, "filter": "source:(direct)"}),
        ("/api/reports/lift", {**r, "promo": "SUMMER"}), ("/api/reports/lift", {**r, "promo": "FREESHIP", "traffic": "all"}),
        ("/api/reports/excluded", r), ("/api/reports/excluded", {**r, "tz": "Asia/Tokyo"}),
        ("/api/trust/visitors", r), ("/api/trust/visitors", {**r, "limit": "7", "offset": "3"}),
        ("/api/trust/visitors", {**r, "max_score": "100", "limit": "1000"}),
        ("/api/trust/promotions", r), ("/api/trust/coupons", r), ("/api/trust/coupons", {**r, "all": "true"}),
        ("/api/trust/networks", r),
    ]
    return asked + [(f"/api/trust/visitors/{vid}", r) for vid in vids]


def one_each(site: str, vids: list[str]) -> list[tuple[str, dict]]:
    """The first question of each endpoint (all read the untrusted set: trusted traffic)."""
    seen: dict[str, dict] = {}
    for path, params in questions(site, vids):
        seen.setdefault("one visitor" if path.startswith("/api/trust/visitors/") else path, {"path": path, "params": params})
    return [(q["path"], q["params"]) for q in seen.values()]


@pytest.fixture(scope="module")
def shops(runtime, server_runtime, cluster_runtime):
    """(site, {backend: (client, headers)}, visitors to look at) with one shop in each backend."""
    site = f"same-{uuid.uuid4().hex[:8]}"
    chunks: list[bytes] = []
    truth = write_rows(runtime, site, VISITORS, DAYS, seed=17, end_ms=END_MS, insert=chunks.append)
    rows = b"".join(chunks)
    backends = {"embedded": runtime, "server": server_runtime, "cluster": cluster_runtime}
    for rt in backends.values():
        rt.sites.ensure(site, [])
        register_promotions(rt, site)
        rt.storage.insert_jsonl("events", rows)
    vids = [min(truth.bots), min(truth.fraud), min(truth.humans)]
    with api(runtime) as a, api(server_runtime) as b, api(cluster_runtime) as c:
        yield site, dict(zip(backends, (a, b, c))), vids


def answers(clients: dict, path: str, params: dict) -> dict[str, object]:
    out = {}
    for name, (client, headers) in clients.items():
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, (name, path, params, response.text)
        out[name] = response.json()
        out[name].pop("trust_as_of", None)  # when each backend last evaluated trust: not a figure
    return out


def assert_same(clients: dict, asked_now: list[tuple[str, dict]]) -> int:
    asked = 0
    for path, params in asked_now:
        got = answers(clients, path, params)
        assert got["server"] == got["embedded"], (path, params)
        assert got["cluster"] == got["embedded"], (path, params)
        asked += 1
    return asked


def test_every_report_and_listing_is_the_same_on_one_node_and_two_shards(shops, cluster_runtime):
    site, clients, vids = shops
    overview = answers(clients, "/api/reports/overview", {"site": site, "from": FROM, "to": TO})["embedded"]
    assert overview["visitors"] > 100 and overview["excluded_visitors"] > 5  # a shop worth comparing
    shards = [node.scalar("SELECT uniqExact(vid) FROM events_local WHERE site = {s:String}", {"s": site}) for node in cluster_runtime.storage.nodes()]
    assert len(shards) == 2 and min(shards) > 0.3 * sum(shards)  # both shards hold a real share of the visitors
    assert assert_same(clients, questions(site, vids)) == len(questions(site, vids)) > 25


def test_the_same_after_the_closed_days_are_materialised(shops):
    site, clients, vids = shops
    for name, (client, headers) in clients.items():
        response = client.post("/api/trust/refresh", params={"site": site, "from": FROM, "to": TO}, headers=headers)
        assert response.status_code == 200, (name, response.text)
        assert len(response.json()["refreshed"]) == DAYS, name
    assert assert_same(clients, one_each(site, vids)) == 15


def report_name(path: str) -> str:
    """The report an API path runs (its `log_comment` is "tracker report <name>")."""
    if path.startswith("/api/reports/"):
        return REPORTS[path.rsplit("/", 1)[1]].name
    route = next(r for r in trust_routes if r.path_regex.match(path))
    return route.endpoint.report.name


def test_shard_2_sends_per_visitor_rows_not_its_events(shops, cluster_runtime):
    site, clients, vids = shops
    client, headers = clients["cluster"]
    node2 = cluster_runtime.storage.nodes()[1]
    events = node2.scalar("SELECT count() FROM events_local WHERE site = {s:String}", {"s": site})
    visitors = node2.scalar("SELECT uniqExact(vid) FROM events_local WHERE site = {s:String}", {"s": site})
    assert events > 1000 and events > 5 * visitors
    sent = {}
    for path, params in one_each(site, vids):
        since = node2.scalar("SELECT now64(6)")
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, (path, response.text)
        node2.command("SYSTEM FLUSH LOGS")
        sent[path] = node2.query(
            "SELECT count(), sum(result_rows), countIf(query LIKE '%view(%') FROM system.query_log WHERE type = 'QueryFinish'"
            " AND is_initial_query = 0 AND log_comment = {c:String} AND event_time_microseconds >= {t:DateTime64(6)}",
            {"c": f"tracker report {report_name(path)}", "t": since}).rows[0]
    for path, (queries, rows, shard_local) in sent.items():
        assert queries > 0, path  # node 2 ran its part of the report (and logged it)
        assert rows < events / 4, (path, rows, events)  # per-visitor (or per-session) rows, not event rows
        # excluded counts the untrusted set and the overview adds up the session fragments the
        # refresh built (per visitor-day rows): plain Distributed aggregates, not shard-local views
        if path not in ("/api/reports/excluded", "/api/reports/overview"):
            assert shard_local > 0, path
