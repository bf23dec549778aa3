"""The untrusted set of a range is computed once and reused only while it is exact: new events,
erasures, a changed promotions registry or changed trust settings all give a fresh set, and
reports of the same unchanged range share one computation."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from tests.conftest import BOT_UA
from tracker.privacy.erase import erase
from tracker.reports.params import parse_scope
from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute
from tracker.reports.trust import cache as trust_cache

RANGE = {"from": "2026-03-01", "to": "2026-03-31"}
HUMAN = [("pageview", "/", 0), ("pageview", "/c/shoes", 30), ("pageview", "/p/1", 90)]


def crawler(start: float = 0) -> list[tuple]:
    return [("pageview", f"/p/{i}", start + i, {"ua": BOT_UA}) for i in range(5)]


@pytest.fixture
def site(journeys, new_site):
    return journeys(new_site(), {"human": HUMAN, "bot1": crawler()})


def report(runtime, site: str, trust=None, **query) -> dict:
    return execute(runtime, REPORTS["overview"], {"site": site, **RANGE, **query}, trust=trust)


def counters(runtime) -> tuple[int, int]:
    sets = runtime.trust_sets
    return sets.computed, sets.reused


def set_partitions(storage) -> int:
    return storage.scalar("SELECT uniqExact(partition) FROM system.parts WHERE database = currentDatabase() AND table = 'trust_sets' AND active")


def test_same_range_is_computed_once_then_reused(runtime, site):
    computed, reused = counters(runtime)
    first = report(runtime, site)
    assert (first["visitors"], first["excluded_visitors"]) == (1, 1)
    assert report(runtime, site) == first
    assert execute(runtime, REPORTS["excluded"], {"site": site, **RANGE})["excluded_visitors"] == 1
    assert counters(runtime) == (computed + 1, reused + 2)


def test_all_traffic_needs_no_set(runtime, site):
    computed, reused = counters(runtime)
    got = report(runtime, site, traffic="all")
    assert (got["visitors"], got["excluded_visitors"]) == (2, 0)
    assert counters(runtime) == (computed, reused)


def test_new_events_in_the_range_give_a_new_set(runtime, site, journeys):
    assert report(runtime, site)["excluded_visitors"] == 1
    journeys(site, {"bot2": crawler(600)})
    computed, _ = counters(runtime)
    got = report(runtime, site)
    assert (got["visitors"], got["excluded_visitors"]) == (1, 2)
    assert counters(runtime)[0] == computed + 1


def test_a_late_event_of_a_known_visitor_changes_its_verdict(runtime, site, journeys):
    assert report(runtime, site)["visitors"] == 1
    journeys(site, {"human": [("pageview", "/p/2", 3600, {"ua": BOT_UA})]})  # same id, now a bot agent
    got = report(runtime, site)
    assert (got["visitors"], got["excluded_visitors"]) == (0, 2)


def test_events_outside_the_range_and_its_lookback_keep_the_set(runtime, site, journeys):
    report(runtime, site)
    journeys(site, {"later": crawler(40 * 86400)})  # in April: outside March and its day of lookback
    computed, reused = counters(runtime)
    assert report(runtime, site)["excluded_visitors"] == 1
    assert counters(runtime) == (computed, reused + 1)


def test_erasure_gives_a_new_set(runtime, site):
    assert report(runtime, site)["excluded_visitors"] == 1
    erase(runtime, "bot1", site, by="test")  # also deletes the visitor from trust_sets
    computed, _ = counters(runtime)
    got = report(runtime, site)
    assert (got["visitors"], got["excluded_visitors"]) == (1, 0)
    assert counters(runtime)[0] == computed + 1


def test_registry_change_gives_a_new_set(runtime, storage, journeys, new_site):
    # Twelve fresh checkouts two hours apart from twelve networks: not a leak on their own.
    crowd = {f"buyer{i}": [("pageview", "/cart", 7200 * i, {"ip": f"192.0.{i}.7"}),
                           ("purchase", (f"o{i}", 20.0), 7200 * i + 60, {"ip": f"192.0.{i}.7", "coupon": "FRIENDS"})] for i in range(12)}
    site = journeys(new_site(), crowd)
    assert report(runtime, site)["excluded_visitors"] == 0
    storage.command(
        "INSERT INTO promos (site, promo_id, name, holdout_pct, coupons, created_at, updated_at) "
        "VALUES ({site:String}, 'REF', 'Referral', 0, ['FRIENDS'], now64(3), now64(3))",
        {"site": site},
    )
    got = report(runtime, site)  # now the code of a promotion none of them saw: leak evidence
    assert (got["visitors"], got["excluded_visitors"]) == (0, 12)


def test_changed_trust_settings_use_their_own_set(runtime, site):
    assert report(runtime, site)["excluded_visitors"] == 1
    lenient = replace(runtime.trust, weights={**runtime.trust.weights, "bot_user_agent": 0})
    got = report(runtime, site, trust=lenient)
    assert (got["visitors"], got["excluded_visitors"]) == (2, 0)
    assert report(runtime, site)["excluded_visitors"] == 1


def test_concurrent_reports_share_one_computation(runtime, site):
    computed, _ = counters(runtime)
    results, errors = [], []

    def run() -> None:
        try:
            results.append(report(runtime, site)["excluded_visitors"])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [1] * 6
    assert counters(runtime)[0] == computed + 1


def test_superseded_sets_are_dropped(runtime, storage, site, journeys, monkeypatch):
    monkeypatch.setattr(trust_cache, "RETIRE_SECONDS", 0.0)
    report(runtime, site)
    journeys(site, {"bot2": crawler(600)})
    computed, _ = counters(runtime)
    assert report(runtime, site)["excluded_visitors"] == 2  # supersedes the first set, dropped once retired
    assert counters(runtime)[0] == computed + 1
    scope = parse_scope({"site": site, **RANGE})
    live = runtime.trust_sets.set_id(site, scope.start_ts, scope.end_ts, runtime.trust)
    rows = storage.query("SELECT DISTINCT set_id FROM trust_sets WHERE site = {site:String}", {"site": site}).rows
    assert [r[0] for r in rows] == [live]


def test_close_drops_the_process_sets(runtime, storage, site):
    report(runtime, site)
    assert set_partitions(storage) >= 1
    runtime.trust_sets.close()  # what Runtime.close does; the next report starts a fresh cache
    assert set_partitions(storage) == 0
    assert report(runtime, site)["excluded_visitors"] == 1
