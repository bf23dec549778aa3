"""`overview`: visitors, sessions, pageviews, bounce rate, session length and a daily series.

How the query works. One query, one read of the deduplicated, range-limited events of
`_sql.timeline_source` (FINAL: an event id delivered twice counts once):
- A GROUP BY visitor builds each visitor's timeline (`_sql.TIMELINE`: sorted packed ms keys, a
  pageview flag, and a new-session flag where the gap to the previous event is over 30
  minutes). Per visitor it yields the number of sessions, of bounced sessions (exactly one
  pageview: `arraySplit` cuts the pageview flags at session starts and counts splits summing
  to 1) and the summed session length (the sum of within-session gaps).
- The same per-visitor row says whether the traffic rule keeps the visitor (the minimum of
  `_sql.trusted_visitor` over its events, against the range's cached untrusted set); the outer
  query adds up the kept visitors and counts the others as `excluded_visitors` (0 with
  `traffic=all`).
- Time series: each visitor's distinct calendar days in `tz` and the days of its pageviews,
  summed per day across visitors with `sumMap`; days without events are filled with zeros in
  `fill_days`, so every day of the range appears.

`bounce_rate` is the fraction (0..1) of sessions that had exactly one pageview, over all
sessions; `avg_session_seconds` is the mean of (last event - first event) over sessions, so a
single-event session counts as 0 seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from tracker.reports import _sql
from tracker.reports.figures import ratio
from tracker.reports.params import NoParams
from tracker.reports.runner import Context

Params = NoParams


def overview_sql(trusted_only: bool) -> str:
    return f"""
    SELECT countIf(trusted = 1) AS visitors,
           sumIf(pageviews, trusted = 1) AS pageviews,
           sumIf(sessions, trusted = 1) AS sessions,
           sumIf(bounces, trusted = 1) AS bounces,
           sumIf(session_ms, trusted = 1) AS session_ms,
           countIf(trusted = 0) AS excluded,
           sumMapIf(days, arrayWithConstant(length(days), toUInt64(1)), trusted = 1) AS day_visitors,
           sumMapIf(pv_days, arrayWithConstant(length(pv_days), toUInt64(1)), trusted = 1) AS day_pageviews
    FROM (
        SELECT visitor, {_sql.TIMELINE},
            min(tr) AS trusted,
            arraySum(pv) AS pageviews,
            arraySum(new) AS sessions,
            arrayCount(s -> arraySum(s) = 1, arraySplit((x, n) -> n = 1, pv, new)) AS bounces,
            arraySum((gap, n) -> if(n = 1, 0, gap), arrayDifference(t), new) AS session_ms,
            arrayMap(x -> toDate(toDateTime(intDiv(x, 1000), 'UTC'), {{tz:String}}), t) AS event_days,
            arrayDistinct(event_days) AS days,
            arrayFilter((d, f) -> f = 1, event_days, pv) AS pv_days
        FROM ({_sql.timeline_source(False, f", {_sql.trusted_visitor(trusted_only)} AS tr")})
        GROUP BY visitor
    )"""


def run(ctx: Context, params: Params) -> dict:
    scope = ctx.scope
    row = ctx.storage.query(overview_sql(scope.trusted_only), ctx.bind(), what="overview report").first() or {}
    days_v, counts_v = row.get("day_visitors") or ([], [])
    days_p, counts_p = row.get("day_pageviews") or ([], [])
    visitors_by_day = dict(zip(days_v, counts_v))
    pageviews_by_day = dict(zip(days_p, counts_p))
    daily = [{"day": d, "visitors": visitors_by_day.get(d, 0), "pageviews": pageviews_by_day.get(d, 0)} for d in visitors_by_day]
    return {
        **shape(row),
        "excluded_visitors": int(row.get("excluded") or 0),
        "timeseries": fill_days(scope.start, scope.end, daily),
    }


def shape(totals: Mapping[str, object]) -> dict:
    """Totals row -> the headline figures (pure: tested without a database)."""
    visitors = int(totals.get("visitors") or 0)
    sessions = int(totals.get("sessions") or 0)
    bounces = int(totals.get("bounces") or 0)
    session_ms = int(totals.get("session_ms") or 0)
    return {
        "visitors": visitors,
        "sessions": sessions,
        "pageviews": int(totals.get("pageviews") or 0),
        "bounces": bounces,
        "bounce_rate": ratio(bounces, sessions) or 0.0,  # no sessions: nothing bounced
        "avg_session_seconds": session_ms / 1000 / sessions if sessions else 0.0,
    }


def fill_days(start: date, end: date, rows: Sequence[Mapping[str, object]]) -> list[dict]:
    """One entry per day of [start, end], zeros where ClickHouse returned no row (pure)."""
    by_day = {row["day"]: row for row in rows}
    out = []
    day = start
    while day <= end:
        row = by_day.get(day) or {}
        out.append({"date": day.isoformat(), "visitors": int(row.get("visitors") or 0), "pageviews": int(row.get("pageviews") or 0)})
        day += timedelta(days=1)
    return out
