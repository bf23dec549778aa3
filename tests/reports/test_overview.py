from datetime import UTC, date, datetime

from tests.conftest import BOT_UA
from tracker.reports.overview import fill_days, shape

MIN = 60


def traffic(series):
    """The traffic part of a daily series (money is tested in test_overview_money.py)."""
    return [{k: d[k] for k in ("date", "visitors", "pageviews")} for d in series]


def test_sessions_bounces_and_duration(journeys, new_site, report):
    site = journeys(new_site(), {
        # 29-minute gap keeps the session; the 31-minute gap starts a second, bounced one.
        "v1": [("pageview", "/", 0), ("pageview", "/p/1", 60), ("pageview", "/cart", 60 + 29 * MIN), ("pageview", "/", 60 + 29 * MIN + 31 * MIN)],
        # one pageview delivered twice with the same event id: one pageview, a bounce
        "v2": [("pageview", "/", 0, {"id": "dup-1"}), ("pageview", "/", 0, {"id": "dup-1"})],
        # a promo click 20 minutes in keeps the session alive past 30 minutes
        "v3": [("pageview", "/", 0), ("promo_click", "SUMMER", 20 * MIN), ("pageview", "/c/shoes", 40 * MIN)],
    })
    out = report("overview", site)
    assert out["visitors"] == 3
    assert out["pageviews"] == 7
    assert out["sessions"] == 4
    assert out["bounce_rate"] == 0.5  # v1's second session and v2's
    assert out["avg_session_seconds"] == (30 * MIN + 0 + 0 + 40 * MIN) / 4
    assert out["excluded_visitors"] == 0


def test_gap_of_exactly_thirty_minutes_stays_in_session(journeys, new_site, report):
    site = journeys(new_site(), {"v": [("pageview", "/", 0), ("pageview", "/a", 30 * MIN), ("pageview", "/b", 60 * MIN + 1)]})
    out = report("overview", site)
    assert out["sessions"] == 2 and out["pageviews"] == 3
    assert out["bounce_rate"] == 0.5
    assert out["avg_session_seconds"] == 30 * MIN / 2


def test_duplicate_event_id_across_inserts_counts_once(journeys, new_site, report):
    site = new_site()
    journeys(site, {"v": [("pageview", "/", 0, {"id": "again"}), ("pageview", "/a", 10)]})
    journeys(site, {"v": [("pageview", "/", 5, {"id": "again"})]})  # a replayed copy, later server time
    out = report("overview", site)
    assert (out["visitors"], out["pageviews"], out["sessions"]) == (1, 2, 1)
    assert out["avg_session_seconds"] == 10.0  # the first copy's time is kept


def test_trusted_excludes_bot_user_agents(journeys, new_site, report):
    site = new_site()
    journeys(site, {"human": [("pageview", "/", 0), ("pageview", "/a", 10)]})
    journeys(site, {"crawler": [("pageview", "/", 0), ("pageview", "/b", 1), ("pageview", "/c", 2)]}, ua=BOT_UA)
    trusted = report("overview", site)
    assert (trusted["visitors"], trusted["pageviews"], trusted["excluded_visitors"]) == (1, 2, 1)
    everyone = report("overview", site, traffic="all")
    assert (everyone["visitors"], everyone["pageviews"], everyone["excluded_visitors"]) == (2, 5, 0)


def test_timeseries_days_follow_tz_and_are_zero_filled(journeys, new_site, report):
    late = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # 00:30 on Mar 3 in Paris, 18:30 Mar 2 in New York
    early = datetime(2026, 3, 3, 0, 30, tzinfo=UTC)
    site = journeys(new_site(), {"a": [("pageview", "/", late)], "b": [("pageview", "/", early), ("pageview", "/x", early)]})
    utc = report("overview", site, **{"from": "2026-03-01", "to": "2026-03-04"})
    assert traffic(utc["timeseries"]) == [
        {"date": "2026-03-01", "visitors": 0, "pageviews": 0},
        {"date": "2026-03-02", "visitors": 1, "pageviews": 1},
        {"date": "2026-03-03", "visitors": 1, "pageviews": 2},
        {"date": "2026-03-04", "visitors": 0, "pageviews": 0},
    ]
    paris = report("overview", site, tz="Europe/Paris", **{"from": "2026-03-03", "to": "2026-03-03"})
    assert traffic(paris["timeseries"]) == [{"date": "2026-03-03", "visitors": 2, "pageviews": 3}]
    assert paris["visitors"] == 2
    new_york = report("overview", site, tz="America/New_York", **{"from": "2026-03-02", "to": "2026-03-02"})
    assert traffic(new_york["timeseries"]) == [{"date": "2026-03-02", "visitors": 2, "pageviews": 3}]
    only_utc_day = report("overview", site, **{"from": "2026-03-03", "to": "2026-03-03"})
    assert (only_utc_day["visitors"], only_utc_day["pageviews"]) == (1, 2)


def test_empty_site(new_site, report):
    out = report("overview", new_site())
    assert out["visitors"] == out["sessions"] == out["pageviews"] == 0
    assert out["bounce_rate"] == 0.0 and out["avg_session_seconds"] == 0.0
    assert len(out["timeseries"]) == 3


# --- pure ---------------------------------------------------------------------------------------


def test_shape():
    assert shape({"visitors": 3, "sessions": 4, "pageviews": 9, "bounces": 1, "session_ms": 6000, "orders": 2, "revenue": 30.004, "buyers": 1}) == {
        "visitors": 3, "sessions": 4, "pageviews": 9, "bounces": 1, "bounce_rate": 0.25, "avg_session_seconds": 1.5,
        "orders": 2, "revenue": 30.0, "conversion_rate": 1 / 3, "aov": 15.0}
    assert shape({})["aov"] is None and shape({})["conversion_rate"] == 0.0
    assert shape({})["bounce_rate"] == 0.0


def test_fill_days():
    rows = [{"day": date(2026, 1, 2), "visitors": 4, "pageviews": 7, "orders": 1, "revenue": 9.5}]
    assert fill_days(date(2026, 1, 1), date(2026, 1, 3), rows) == [
        {"date": "2026-01-01", "visitors": 0, "pageviews": 0, "orders": 0, "revenue": 0.0},
        {"date": "2026-01-02", "visitors": 4, "pageviews": 7, "orders": 1, "revenue": 9.5},
        {"date": "2026-01-03", "visitors": 0, "pageviews": 0, "orders": 0, "revenue": 0.0},
    ]
