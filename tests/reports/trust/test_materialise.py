"""Materialised day partials: the same scores as live computation, and never stale.

Dates here are recent (evidence is kept `evidence_retention_days`), on closed UTC days."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import BOT_UA, auth
from tracker.reports import _sql, session_days
from tracker.reports.params import parse_scope
from tracker.reports.runner import Context
from tracker.reports.trust import materialise, score

DAY0 = (datetime.now(UTC) - timedelta(days=4)).replace(hour=12, minute=0, second=0, microsecond=0)


def at(days: float, seconds: float = 0) -> datetime:
    return DAY0 + timedelta(days=days, seconds=seconds)


def query() -> dict:
    return {"from": (DAY0 - timedelta(days=1)).date().isoformat(), "to": (DAY0 + timedelta(days=2)).date().isoformat()}


@pytest.fixture
def site(journeys, new_site):
    spec = {
        # Views on day 0, clicks on day 1: "prior" must reach across the materialised days.
        "human": [("pageview", "/", at(0)), ("promo_view", "A", at(0, 5)), ("pageview", "/", at(1)), ("promo_click", "A", at(1, 1)),
                  ("purchase", ("o1", 10.0), at(1, 60), {"coupon": "X"})],
        "fast": [("pageview", "/", at(0))] + [s for k in range(2) for s in (("promo_view", "A", at(k, 9)), ("promo_click", "A", at(k, 9.05)))],
        "speedy": [("pageview", f"/p{i}", at(1, i * 0.3)) for i in range(130)],
    }
    return journeys(new_site(), spec)


def scores(runtime, site) -> dict:
    bind = Context(runtime.storage, parse_scope({"site": site, **query()}), runtime.trust).bind_coverage()
    return {r["vid"]: (r["score"], tuple(r["reasons"]), r["events"], r["clicks_without_view"])
            for r in runtime.storage.dicts(score.VISITOR_SCORES, bind)}


def untrusted(runtime, scope) -> set[str]:
    """The range's untrusted set as every trusted report reads it once the evaluator has caught up."""
    runtime.trust_sets.refresh(scope.site, force=True)
    set_id = runtime.trust_sets.verdicts(scope.site, scope.start_ts, scope.end_ts).set_id
    return {r[0] for r in runtime.storage.query(_sql.UNTRUSTED_VISITORS, {"site": scope.site, "tt_set": set_id}).rows}


def covered(storage, site) -> int:
    return storage.scalar("SELECT count() FROM trust_coverage FINAL WHERE site = {s:String}", {"s": site})


def test_materialised_equals_live(runtime, storage, site):
    live = scores(runtime, site)
    assert live["human"][1] == () and live["human"][3] == 0
    assert "fast_click" in live["fast"][1] and "velocity" in live["speedy"][1]
    days = materialise.refresh(storage, runtime.trust, site=site)
    assert {d.day for d in days} == {DAY0.date(), (DAY0 + timedelta(days=1)).date()} and covered(storage, site) == 2
    assert scores(runtime, site) == live
    assert materialise.refresh(storage, runtime.trust, site=site) == []  # nothing stale now


def test_late_rows_make_a_day_stale_never_wrong(runtime, storage, site, journeys):
    materialise.refresh(storage, runtime.trust, site=site)
    scope = parse_scope({"site": site, **query()})
    assert "crawler" not in untrusted(runtime, scope)  # the range's set, kept from here on
    journeys(site, {"crawler": [("pageview", "/", at(1, 30), {"ua": BOT_UA})]})  # after materialisation
    excluded = untrusted(runtime, scope)
    assert "crawler" in excluded and "speedy" in excluded and "human" not in excluded
    stale = materialise.stale_days(storage, runtime.trust, site=site)
    assert [d.day for d in stale] == [(DAY0 + timedelta(days=1)).date()]


def test_changed_fast_click_setting_invalidates(runtime, storage, site):
    materialise.refresh(storage, runtime.trust, site=site)
    other = replace(runtime.trust, fast_click_ms=10)
    bind = Context(storage, parse_scope({"site": site, **query()}), other).bind_coverage()
    rows = {r["vid"]: r for r in storage.dicts(score.VISITOR_SCORES, bind)}
    assert "fast_click" not in rows["fast"]["reasons"]  # computed live under the new setting
    assert len(materialise.stale_days(storage, other, site=site)) == 2


def test_overlapping_refreshes_compute_each_stale_day_once(runtime, storage, site):
    """An operator's refresh during the trust job's tick: the second waits, then finds nothing
    stale, instead of computing every day again beside the first."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(3) as pool:
        runs = list(pool.map(lambda _: materialise.refresh(storage, runtime.trust, site=site), range(3)))
        built = list(pool.map(lambda _: session_days.refresh(storage, site=site), range(3)))
    assert sorted(len(days) for days in runs) == [0, 0, 2]
    assert sorted(len(days) for days in built) == [0, 0, 2]
    assert covered(storage, site) == 2


def test_background_job_refreshes(runtime, storage, site):
    job = materialise.TrustJob(storage, runtime.trust, interval=0.05)
    job.start()
    try:
        deadline = time.monotonic() + 60
        while covered(storage, site) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        job.stop()
    assert covered(storage, site) == 2 and job.runs >= 1


def test_refresh_builds_the_session_fragments_of_the_ranges_closed_days_only(client, storage, site, fraud_token):
    days = lambda: {str(d) for d in storage.scalar(  # noqa: E731
        "SELECT groupArray(DISTINCT day) FROM session_coverage WHERE site = {s:String}", {"s": site})}
    day0, day1 = at(0).date().isoformat(), at(1).date().isoformat()
    q = {"site": site, "from": day1, "to": day1}
    assert client.post("/api/trust/refresh", params=q, headers=auth(fraud_token)).json()["sessions"] == [day1]
    assert days() == {day1}, "day 0 lies outside the range"
    q = {"site": site, **query()}
    assert client.post("/api/trust/refresh", params=q, headers=auth(fraud_token)).json()["sessions"] == [day0]
    assert days() == {day0, day1}
    assert client.post("/api/trust/refresh", params=q, headers=auth(fraud_token)).json()["sessions"] == []


def test_refresh_endpoint(client, site, fraud_token, marketer_token):
    q = {"site": site, **query()}
    assert client.post("/api/trust/refresh", params=q, headers=auth(marketer_token)).status_code == 403
    r = client.post("/api/trust/refresh", params=q, headers=auth(fraud_token))
    assert r.status_code == 200
    again = client.post("/api/trust/refresh", params=q, headers=auth(fraud_token)).json()
    assert again == {"site": site, "from": q["from"], "to": q["to"], "traffic": "all", "tz": "UTC", "filters": [], "refreshed": [], "sessions": []}
