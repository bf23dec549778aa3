"""`pages`: per path, pageviews, visitors, entries (first pageview of a session) and exits
(last pageview of a session), most viewed first.

How the query works. `_sql.pageview_sessions` reads the deduplicated, range-limited (and,
by default, trusted) events once and cuts each visitor's timeline into 30-minute-gap sessions
(all event types keep a session alive), keeping each session's pageview paths in order. Those
are unfolded into one row per pageview, flagged as entry (first of its session) and exit (last;
a one-page session is both), and grouped by `path`: pageviews, distinct visitors, entries,
exits. The path column never holds the query string, so `/p/1?color=red` and `/p/1` are one
page. Rows are ordered by pageviews (then path, for a stable order) and cut at `limit`.
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
    SELECT path, count() AS pageviews, uniqExact(vid) AS visitors, sum(entry) AS entries, sum(exit) AS exits
    FROM (
        SELECT vid,
               arrayJoin(arrayFlatten(arrayMap(s -> arrayMap((p, i) -> (p, toUInt8(i = 1), toUInt8(i = length(s))), s, arrayEnumerate(s)),
                                               sessions))) AS view,
               view.1 AS path, view.2 AS entry, view.3 AS exit
        FROM ({_sql.pageview_sessions(trusted_only)})
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
