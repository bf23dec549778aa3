"""`pages`: per path, pageviews, visitors, entries (first pageview of a session) and exits
(last pageview of a session), most viewed first.

How the query works. Two aggregations over the deduplicated, range-limited (and, by default,
trusted) events, glued with UNION ALL and summed per path:
- pageviews and distinct visitors per `path` (the path column never holds the query string,
  so `/p/1?color=red` and `/p/1` are one page);
- entries and exits from `_sql.pageview_sessions`, which cuts each visitor's timeline into
  30-minute-gap sessions (all event types keep a session alive) and keeps each session's
  pageview paths in order: the first is an entry, the last an exit (a one-page session is
  both).
Rows are ordered by pageviews (then path, for a stable order) and cut at `limit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tracker.reports import _sql
from tracker.reports._params import Common, int_param, parse_common

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Params:
    common: Common
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Params:
        return cls(parse_common(query), int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT))


def pages_sql(trusted_only: bool) -> str:
    return f"""
    SELECT path, sum(pageviews) AS pageviews, sum(visitors) AS visitors, sum(entries) AS entries, sum(exits) AS exits
    FROM (
        SELECT path, count() AS pageviews, uniqExact(vid) AS visitors, toUInt64(0) AS entries, toUInt64(0) AS exits
        FROM ({_sql.events(trusted_only)})
        WHERE type = 'pageview'
        GROUP BY path
        UNION ALL
        SELECT path, toUInt64(0), toUInt64(0), countIf(edge = 1), countIf(edge = 2)
        FROM (
            SELECT arrayJoin(arrayConcat(
                       arrayMap(s -> (s[1], 1), sessions),
                       arrayMap(s -> (s[-1], 2), sessions))) AS pair,
                   pair.1 AS path, pair.2 AS edge
            FROM ({_sql.pageview_sessions(trusted_only)})
        )
        GROUP BY path
    )
    GROUP BY path
    ORDER BY pageviews DESC, path
    LIMIT {{limit:UInt32}}"""


def run(storage, params: Params) -> dict:
    common = params.common
    rows = storage.dicts(pages_sql(common.trusted_only), {**common.bind(), "limit": params.limit}, what="pages report")
    return {
        "site": common.site,
        "from": common.start.isoformat(),
        "to": common.end.isoformat(),
        "traffic": common.traffic,
        "rows": shape_rows(rows),
    }


def shape_rows(rows: Sequence[Mapping[str, object]]) -> list[dict]:
    """ClickHouse rows -> response rows with plain ints (pure)."""
    return [
        {
            "path": str(r["path"]),
            "pageviews": int(r["pageviews"]),
            "visitors": int(r["visitors"]),
            "entries": int(r["entries"]),
            "exits": int(r["exits"]),
        }
        for r in rows
    ]
