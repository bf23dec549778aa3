"""`overview`: visitors, sessions, pageviews, bounce rate, session length and a daily series.

How the query works. Everything reads the deduplicated, range-limited (and, by default,
trusted) events of `_sql.events`, so an event id delivered twice counts once.
- Totals: one GROUP BY vid builds each visitor's timeline (`_sql.TIMELINE`: sorted packed
  ms keys, a pageview flag, and a new-session flag where the gap to the previous event is over
  30 minutes). Per visitor it yields the number of sessions, of bounced sessions (exactly one
  pageview: `arraySplit` cuts the pageview flags at session starts and counts splits summing
  to 1) and the summed session length (the sum of within-session gaps). The outer query adds
  these up across visitors.
- Time series: visitors (distinct ids) and pageviews per calendar day in `tz`; days without
  events are filled with zeros in `fill_days`, so every day of the range appears.
- `excluded_visitors`: how many visitors the trusted-traffic rule left out (0 with
  `traffic=all`, where nobody is left out).

`bounce_rate` is the fraction (0..1) of sessions that had exactly one pageview, over all
sessions; `avg_session_seconds` is the mean of (last event - first event) over sessions, so a
single-event session counts as 0 seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from tracker.reports import _sql
from tracker.reports._params import Common, parse_common


@dataclass(frozen=True)
class Params:
    common: Common

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Params:
        return cls(parse_common(query))


def totals_sql(trusted_only: bool) -> str:
    return f"""
    SELECT count() AS visitors,
           sum(pageviews) AS pageviews,
           sum(sessions) AS sessions,
           sum(bounces) AS bounces,
           sum(session_ms) AS session_ms
    FROM (
        SELECT vid, {_sql.TIMELINE},
            arraySum(pv) AS pageviews,
            arraySum(new) AS sessions,
            arrayCount(s -> arraySum(s) = 1, arraySplit((x, n) -> n = 1, pv, new)) AS bounces,
            arraySum((gap, n) -> if(n = 1, 0, gap), arrayDifference(t), new) AS session_ms
        FROM ({_sql.timeline_source(trusted_only)})
        GROUP BY vid
    )"""


def daily_sql(trusted_only: bool) -> str:
    return f"""
    SELECT toDate(ts, {{tz:String}}) AS day, uniqExact(vid) AS visitors, countIf(type = 'pageview') AS pageviews
    FROM ({_sql.events(trusted_only)})
    GROUP BY day
    ORDER BY day"""


def run(storage, params: Params) -> dict:
    common = params.common
    bind = common.bind()
    totals = storage.query(totals_sql(common.trusted_only), bind, what="overview report").first() or {}
    daily = storage.dicts(daily_sql(common.trusted_only), bind, what="overview report")
    excluded = int(storage.scalar(_sql.excluded_visitors_sql(), bind, what="overview report") or 0) if common.trusted_only else 0
    return {
        "site": common.site,
        "from": common.start.isoformat(),
        "to": common.end.isoformat(),
        "traffic": common.traffic,
        "tz": common.tz,
        **summarize(totals),
        "excluded_visitors": excluded,
        "timeseries": fill_days(common.start, common.end, daily),
    }


def summarize(totals: Mapping[str, object]) -> dict:
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
        "bounce_rate": rate(bounces, sessions),
        "avg_session_seconds": session_ms / 1000 / sessions if sessions else 0.0,
    }


def rate(part: int, whole: int) -> float:
    """part / whole, unrounded (clients round for display); 0.0 when there is nothing to divide by."""
    return part / whole if whole else 0.0


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
