"""Session fragments (tracker/reports/session_days.py): the overview read from fragments of
closed days plus raw events for the rest gives the same figures as the overview cut from raw
events, on real chDB: sessions across midnight, late events into a closed day, trusted vs all,
a tz other than UTC, random journeys."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import BOT_UA, BROWSER_UA, journey_rows
from tracker.reports import session_days
from tracker.reports.params import parse_params, parse_scope
from tracker.reports.routes import REPORTS
from tracker.reports.runner import Context

MIN = 60
NOW = datetime(2026, 3, 20, 12, 0)  # every day of the tests' ranges is closed


SESSION_REPORTS = ("overview", "sources", "campaigns", "devices", "paths")
PARAMS = {"paths": {"start": "/p1", "depth": "3"}}  # a report's own parameters, where it needs some


def both(runtime, site: str, name: str = "overview", **query) -> tuple[dict, dict, list]:
    """(raw answer, rollup answer, the covered days the rollup read) of report `name`."""
    report = REPORTS[name]
    scope = parse_scope({"site": site, "from": "2026-03-01", "to": "2026-03-04", **query})
    verdicts = runtime.trust_sets.verdicts(site, scope.start_ts, scope.end_ts, runtime.trust) if scope.trusted_only else None
    ctx = Context(runtime.storage, scope, runtime.trust, verdicts.set_id if verdicts else 0)
    covered = session_days.bind_coverage(runtime.storage, ctx.bind())["sr_days"]
    params = parse_params(report.params, PARAMS.get(name, {}))
    return report.run(ctx, params, rollups=False), report.run(ctx, params), covered


def same_everywhere(runtime, site: str, **query) -> list:
    """Every session report gives the same answer both ways; returns the covered days."""
    for name in SESSION_REPORTS:
        raw, rolled, covered = both(runtime, site, name, **query)
        assert raw == rolled, (name, query)
    return covered


def test_fragments_stitch_sessions_across_midnight(runtime, journeys, new_site):
    midnight = datetime(2026, 3, 3, tzinfo=UTC)
    site = journeys(new_site(), {
        # one session 23:50 -> 00:10: two fragments, one session
        "a": [("pageview", "/", midnight - timedelta(minutes=10)), ("pageview", "/b", midnight + timedelta(minutes=10))],
        # a bounce before midnight and one after, 31 minutes apart: two sessions, both bounced
        "b": [("pageview", "/", midnight - timedelta(minutes=1)), ("pageview", "/b", midnight + timedelta(minutes=30, seconds=1))],
        # a pageview before midnight and a click after it, 30 minutes exactly: one session, engaged
        "c": [("pageview", "/", midnight - timedelta(minutes=15)), ("promo_click", "P", midnight + timedelta(minutes=15))],
        "d": [("pageview", "/", 0), ("purchase", ("o1", 20.0), 60), ("pageview", "/x", 2 * 3600)],
    })
    session_days.refresh(runtime.storage, site=site, now=NOW)
    raw, rolled, covered = both(runtime, site)
    assert len(covered) == 2
    assert raw == rolled
    assert (raw["sessions"], raw["bounces"], raw["visitors"]) == (6, 3, 4)  # a 1, b 2, c 1, d 2 (its second a bounce)


def test_a_day_whose_session_runs_into_both_neighbours(runtime, journeys, new_site):
    day = datetime(2026, 3, 2, tzinfo=UTC)
    steps = [("pageview", "/", day - timedelta(minutes=5))]
    steps += [("promo_view", "P", day + timedelta(minutes=25 * i)) for i in range(1, 58)]  # every 25 minutes through Mar 2
    steps += [("pageview", "/end", day + timedelta(days=1, minutes=10))]
    site = journeys(new_site(), {"long": steps, "one": [("pageview", "/", day - timedelta(minutes=1))]})
    session_days.refresh(runtime.storage, site=site, now=NOW)
    raw, rolled, covered = both(runtime, site)
    assert len(covered) == 3 and raw == rolled
    assert (raw["sessions"], raw["bounces"]) == (2, 1)


def test_a_late_event_into_a_closed_day_is_read_raw(runtime, journeys, new_site):
    site = journeys(new_site(), {"a": [("pageview", "/", 0)], "b": [("pageview", "/", 86400)]})
    session_days.refresh(runtime.storage, site=site, now=NOW)
    assert both(runtime, site)[2]
    journeys(site, {"a": [("pageview", "/late", 20 * MIN)]})  # same day as a's first: a stale fragment
    raw, rolled, covered = both(runtime, site)
    assert datetime(2026, 3, 2).date() not in covered and covered
    assert raw == rolled and raw["bounces"] == 1
    session_days.refresh(runtime.storage, site=site, now=NOW)
    assert both(runtime, site)[0:2] == (raw, raw)


MOBILE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
TAGS = ["", "", "?utm_source=news&utm_medium=email&utm_campaign=spring", "?utm_source=ads&utm_campaign=x", "?utm_medium=cpc"]
REFS = [None, None, "https://www.google.com/search", "https://shop.example/p/1", "https://blog.example/post"]


def random_journeys(rng: random.Random, visitors: int) -> dict:
    """Journeys with gaps around the 30-minute rule and across midnights, UTM tags, outside
    and own referrers, two user agents, purchases (some order ids shared)."""
    kinds = ["pageview"] * 6 + ["promo_view", "promo_click", "add_to_cart", "custom", "purchase"]
    start = datetime(2026, 2, 28, 20, tzinfo=UTC)
    spec = {}
    for v in range(visitors):
        at = start + timedelta(seconds=rng.randrange(0, 5 * 86400))
        ua = rng.choice([BROWSER_UA, MOBILE_UA])
        steps = []
        for _ in range(rng.randrange(1, 12)):
            at += timedelta(seconds=rng.choice([1, 30, 600, 1799, 1800, 1801, 3600, 20000, 86400]))
            kind = rng.choice(kinds)
            extra: dict = {"ua": rng.choice([ua, ua, MOBILE_UA])}
            if kind == "purchase":
                target = (f"o{rng.randrange(20)}", float(rng.randrange(1, 90)))
            elif "promo" in kind:
                target = "P"
            else:
                target = f"/p{rng.randrange(5)}"
                extra["query"] = rng.choice(TAGS)
                if kind == "pageview" and (ref := rng.choice(REFS)):
                    extra["ref"] = ref
            steps.append((kind, target, at, extra))
        spec[f"r{v}"] = steps
    return spec


@pytest.mark.parametrize("seed", [1, 2])
def test_random_journeys_give_the_same_figures(runtime, new_site, seed):
    rng = random.Random(seed)
    site = new_site()
    runtime.storage.insert_jsonl("events", journey_rows(site, random_journeys(rng, 120), runtime=runtime))
    runtime.storage.insert_jsonl("events", journey_rows(site, {"bot": [("pageview", "/", i * 7) for i in range(40)]}, ua=BOT_UA,
                                                        runtime=runtime))
    session_days.refresh(runtime.storage, site=site, now=NOW)
    for query in ({}, {"traffic": "all"}, {"tz": "America/New_York"}, {"tz": "Europe/Paris", "traffic": "all"}):
        assert same_everywhere(runtime, site, **query), query
    raw, rolled, _ = both(runtime, site, tz="Asia/Kolkata")  # half-hour offset: read raw, same answer
    assert raw == rolled


def test_confirmed_orders_count_the_same_from_fragments(runtime, client, new_site):
    site = new_site()
    spec = random_journeys(random.Random(7), 80)
    runtime.storage.insert_jsonl("events", journey_rows(site, spec, runtime=runtime))
    session_days.refresh(runtime.storage, site=site, now=NOW)
    token, _ = runtime.tokens.create(role="ingest", name=f"backend-{site}", sites=[site])
    orders = [{"id": f"o{i}", "revenue": 7 + i, "currency": "EUR", "status": "paid"} for i in range(12)]
    orders += [{"id": "o13", "revenue": 5, "status": "refunded"}, {"id": "phone", "revenue": 9, "status": "paid",
                "ts": int(datetime(2026, 3, 2, 9, tzinfo=UTC).timestamp() * 1000)}]
    answer = client.post("/api/orders", json={"site": site, "orders": orders}, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 202, answer.text
    raw, rolled, covered = both(runtime, site)
    assert covered and raw["revenue_source"] == "confirmed" and raw["orders"] > 0
    assert raw == rolled
    assert same_everywhere(runtime, site, traffic="all")
