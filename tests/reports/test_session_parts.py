"""Session parts (tracker/reports/session_parts.py): sources, campaigns and devices read from the
parts of closed days plus raw events for the rest give the raw reports' rows, on real chDB:
sessions across midnight whose dimensions come from the day before and whose purchase comes
after it, the site's other hosts as referrers, a visitor changing device mid-session, and
the rollup really being what the reports read."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tests.conftest import BROWSER_UA, journey_rows
from tests.reports.test_session_days import MOBILE_UA, NOW, both, random_journeys
from tracker.reports import session_days, session_parts

MIDNIGHT = datetime(2026, 3, 3, tzinfo=UTC)


def spy(monkeypatch) -> list:
    """Calls of `session_parts.by_sql` (the rollup's only entry) made from here on."""
    calls: list = []
    real = session_parts.by_sql

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(session_parts, "by_sql", counting)
    return calls


def at(minutes: float) -> datetime:
    return MIDNIGHT + timedelta(minutes=minutes)


def test_a_session_across_midnight_keeps_its_first_parts_dimensions(runtime, journeys, new_site, monkeypatch):
    site = journeys(new_site("https://shop.example", "https://m.shop.example"), {
        # tagged and referred before midnight, bought after it on another device: one session of "news"
        "a": [("pageview", "/", at(-10), {"query": "?utm_source=news&utm_campaign=spring", "ref": "https://www.google.com/"}),
              ("pageview", "/p1", at(5), {"ua": MOBILE_UA}), ("purchase", ("o1", 30.0), at(20), {"ua": MOBILE_UA})],
        # only a promo view before midnight: the first pageview (after it) gives the referrer and the entry
        "b": [("promo_view", "P", at(-20)), ("pageview", "/landing", at(5), {"ref": "https://blog.example/x"}),
              ("pageview", "/p2", at(9))],
        # a referrer from the site's other registered host is internal: (direct)
        "c": [("pageview", "/", at(-300), {"ref": "https://m.shop.example/"})],
        # 31 minutes apart across midnight: two sessions, two bounces, the second from "ads"
        "d": [("pageview", "/", at(-1)), ("pageview", "/x", at(30.02), {"query": "?utm_source=ads"})],
    })
    session_days.refresh(runtime.storage, site=site, now=NOW)
    calls = spy(monkeypatch)
    for name in ("sources", "campaigns", "devices"):
        raw, rolled, covered = both(runtime, site, name, traffic="all")
        assert covered and raw == rolled, name
    assert len(calls) == 3  # each report read the parts, not raw events
    raw, rolled, _ = both(runtime, site, "paths", traffic="all")
    assert raw == rolled
    sources = {r["source"]: r for r in both(runtime, site, "sources", traffic="all")[1]["rows"]}
    assert sources["news"]["sessions"] == 1 and sources["news"]["orders"] == 1 and sources["news"]["pageviews"] == 2
    assert sources["blog.example"]["sessions"] == 1 and sources["blog.example"]["bounce_rate"] == 0.0
    assert sources["(direct)"]["sessions"] == 2 and sources["(direct)"]["bounce_rate"] == 1.0  # c, and d's first
    assert sources["ads"]["sessions"] == 1
    devices = both(runtime, site, "devices", traffic="all")[1]
    assert {r["value"]: r["sessions"] for r in devices["device"]} == {"desktop": 5}  # a's session began on the desktop


def test_untrusted_visitors_leave_the_rollup_too(runtime, new_site, monkeypatch):
    rng = random.Random(11)
    site = new_site()
    runtime.storage.insert_jsonl("events", journey_rows(site, random_journeys(rng, 150), runtime=runtime))
    crawler = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
    runtime.storage.insert_jsonl("events", journey_rows(site, {"bot": [("pageview", f"/p{i % 5}", i * 5, {"query": "?utm_source=news"})
                                                                         for i in range(60)]}, ua=crawler, runtime=runtime))
    session_days.refresh(runtime.storage, site=site, now=NOW)
    calls = spy(monkeypatch)
    for name in ("sources", "campaigns", "devices"):
        for query in ({}, {"traffic": "all"}):
            raw, rolled, covered = both(runtime, site, name, **query)
            assert covered and raw == rolled, (name, query)
    assert len(calls) == 6
    trusted, every = both(runtime, site, "sources")[1], both(runtime, site, "sources", traffic="all")[1]
    assert sum(r["sessions"] for r in trusted["rows"]) < sum(r["sessions"] for r in every["rows"])


def test_a_filter_or_an_uncovered_range_reads_raw_events(runtime, journeys, new_site, monkeypatch):
    site = journeys(new_site(), {"a": [("pageview", "/", at(-60), {"query": "?utm_source=news"}), ("pageview", "/b", at(-50))]})
    calls = spy(monkeypatch)
    raw, rolled, covered = both(runtime, site, "sources", traffic="all")  # nothing built yet
    assert not covered and raw == rolled and not calls
    session_days.refresh(runtime.storage, site=site, now=NOW)
    raw, rolled, _ = both(runtime, site, "sources", traffic="all", filter="source:news")
    assert raw == rolled and not calls and rolled["rows"][0]["sessions"] == 1
    assert both(runtime, site, "sources", traffic="all")[1] == raw and len(calls) == 1


def test_parts_are_built_with_the_fragments_under_one_coverage(runtime, journeys, new_site):
    site = journeys(new_site(), {"a": [("pageview", "/", at(-60)), ("pageview", "/b", at(600), {"ua": BROWSER_UA})]})
    session_days.refresh(runtime.storage, site=site, now=NOW)
    rows = runtime.storage.query(
        "SELECT p.day, count() FROM session_parts AS p INNER JOIN (SELECT day, computed_at FROM session_coverage FINAL "
        "WHERE site = {site:String}) AS c ON p.day = c.day AND p.computed_at = c.computed_at WHERE p.site = {site:String} "
        "GROUP BY p.day ORDER BY p.day", {"site": site}).rows
    assert [(d.isoformat(), n) for d, n in rows] == [("2026-03-02", 1), ("2026-03-03", 1)]


NOON = datetime(2026, 3, 3, 12, 0)  # "now" for today's prefix: built up to 11:58


def test_todays_prefix_is_read_with_the_rest_cut_live(runtime, journeys, new_site, monkeypatch):
    site = new_site()
    rng = random.Random(5)
    runtime.storage.insert_jsonl("events", journey_rows(site, random_journeys(rng, 100), runtime=runtime))
    journeys(site, {
        # one session across the prefix's end (11:58): tagged before it, bought after it
        "w": [("pageview", "/", at(11 * 60 + 50), {"query": "?utm_source=news"}), ("purchase", ("ow", 12.0), at(12 * 60 + 5))],
        # two sessions either side of it, 31 minutes apart
        "x": [("pageview", "/", at(11 * 60 + 40)), ("pageview", "/b", at(12 * 60 + 11.5))],
    })
    session_days.refresh(runtime.storage, site=site, now=NOW.replace(month=3, day=3, hour=0, minute=6))  # closed days only
    assert session_days.refresh_today(runtime.storage, site=site, now=NOON) == [site]
    assert session_days.refresh_today(runtime.storage, site=site, now=NOON + timedelta(minutes=3)) == []  # fresh enough
    calls = spy(monkeypatch)
    for name in ("overview", "sources", "campaigns", "devices"):
        for query in ({"traffic": "all"}, {}, {"tz": "Europe/Paris", "traffic": "all"}):
            raw, rolled, covered = both(runtime, site, name, **query)
            assert raw == rolled, (name, query)
    bind = session_days.bind_coverage(runtime.storage, {"site": site, "start": datetime(2026, 3, 1), "end": datetime(2026, 3, 4)})
    assert bind["sr_pdays"] == [NOON.date()] and bind["sr_pupto"] == [int(datetime(2026, 3, 3, 11, 58, tzinfo=UTC).timestamp() * 1000)]
    assert len(calls) == 9
    # an event into the prefix (an import) sends it back to raw until rebuilt; the figures never change
    journeys(site, {"late": [("pageview", "/late", at(9 * 60))]})
    assert not session_days.bind_coverage(runtime.storage, {**bind})["sr_pdays"]
    raw, rolled, _ = both(runtime, site, "sources", traffic="all")
    assert raw == rolled
    assert session_days.refresh_today(runtime.storage, site=site, now=NOON + timedelta(minutes=4)) == [site]
    assert session_days.bind_coverage(runtime.storage, {**bind})["sr_pdays"] == [NOON.date()]
    assert both(runtime, site, "sources", traffic="all")[1] == rolled
    # once the day closes its whole build replaces the prefix
    session_days.refresh(runtime.storage, site=site, now=datetime(2026, 3, 4, 0, 6))
    bind = session_days.bind_coverage(runtime.storage, {**bind})
    assert NOON.date() in bind["sr_days"] and not bind["sr_pdays"]


def test_paths_follow_a_session_across_midnight(runtime, journeys, new_site, monkeypatch):
    from tracker.reports import paths
    from tracker.reports.params import parse_params, parse_scope
    from tracker.reports.runner import Context

    site = journeys(new_site(), {
        "a": [("pageview", "/", at(-20)), ("pageview", "/c", at(-5)), ("pageview", "/p", at(10)), ("pageview", "/c", at(15))],
        "b": [("pageview", "/", at(-100)), ("pageview", "/c", at(-90))],
        "c": [("pageview", "/", at(-100)), ("pageview", "/c", at(-31 - 90))],  # 31 minutes before "/": its own session
    })
    session_days.refresh(runtime.storage, site=site, now=NOW)
    seen = []
    real = session_parts.sessions_sql
    monkeypatch.setattr(session_parts, "sessions_sql", lambda *a, **k: seen.append(k) or real(*a, **k))
    ctx = Context(runtime.storage, parse_scope({"site": site, "from": "2026-03-01", "to": "2026-03-04", "traffic": "all"}), runtime.trust)
    params = parse_params(paths.Params, {"start": "/", "depth": "3"})
    raw, rolled = paths.run(ctx, params, rollups=False), paths.run(ctx, params)
    assert seen and raw == rolled
    assert {r["path"]: r["count"] for r in rolled["rows"]} == {"/c → /p": 1, "/c": 1, "(exit)": 1}


def test_the_clusters_form_of_the_rollup_gives_the_same_rows(runtime, new_site):
    """On a cluster the sessions are stitched twice (no materialised CTE reaches the shards):
    run that form here too, against the one-node form and the raw query."""
    from tracker.reports import campaigns, devices, revenue, sources
    from tracker.reports.params import parse_scope
    from tracker.reports.runner import Context

    site = new_site()
    runtime.storage.insert_jsonl("events", journey_rows(site, random_journeys(random.Random(3), 120), runtime=runtime))
    session_days.refresh(runtime.storage, site=site, now=NOW)
    ctx = Context(runtime.storage, parse_scope({"site": site, "from": "2026-03-01", "to": "2026-03-04", "traffic": "all"}), runtime.trust)
    counting = revenue.money_of(runtime.storage, ctx.bind())
    bind = session_days.bind_coverage(runtime.storage, ctx.bind(limit=100, **revenue.bind(counting)))
    assert bind["sr_days"]
    for module, raw in ((sources, sources.sources_sql(False, (), counting)), (campaigns, campaigns.campaigns_sql(False, counting)),
                        (devices, devices.devices_sql(False, (), counting))):
        rows = [runtime.storage.query(module.rollup_sql(False, counting, sharded=sharded), bind, settings=session_parts.SETTINGS).rows
                for sharded in (False, True)]
        expected = runtime.storage.query(raw, bind).rows
        assert rows[0] == rows[1] and len(rows[0]) == len(expected), module.__name__
