"""`pages`: per path, pageviews, visitors, entries (first pageview of a session) and exits
(last pageview of a session), most viewed first.

How the query works. `_sql.pageview_sessions` reads the deduplicated, range-limited (and,
by default, trusted) events once and cuts each visitor's timeline into 30-minute-gap sessions
(all event types keep a session alive), keeping each session's pageviews in order as path
hashes. Those are unfolded into one row per pageview with three flags: first view of this path
by this visitor (`arrayEnumerateUniq`, so distinct visitors are a sum, not a uniqExact), entry
(first of its session) and exit (last; a one-page session is both); grouped by path hash and
named through `_sql.PATH_NAMES`. The path column never holds the query string, so
`/p/1?color=red` and `/p/1` are one page. Rows are ordered by pageviews (then path, for a stable order) and cut at `limit`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tracker.reports import _sql
from tracker.reports.params import Listing
from tracker.reports.runner import Context

Params = Listing


def pages_sql(trusted_only: bool, filters=()) -> str:
    return f"""
    SELECT n.name AS path, c.pageviews AS pageviews, c.visitors AS visitors, c.entries AS entries, c.exits AS exits
    FROM (
        SELECT view.1 AS h, count() AS pageviews, sum(view.2) AS visitors, sum(view.3) AS entries, sum(view.4) AS exits
        FROM (
            SELECT arrayFlatten(sessions) AS flat,
                   arrayJoin(arrayZip(
                       flat,
                       arrayMap(n -> toUInt8(n = 1), arrayEnumerateUniq(flat)),
                       arrayFlatten(arrayMap(s -> arrayMap(i -> toUInt8(i = 1), arrayEnumerate(s)), sessions)),
                       arrayFlatten(arrayMap(s -> arrayMap(i -> toUInt8(i = length(s)), arrayEnumerate(s)), sessions)))) AS view
            FROM ({_sql.pageview_sessions(trusted_only, filters=filters)})
        )
        GROUP BY h
    ) AS c
    INNER JOIN ({_sql.PATH_NAMES}) AS n ON n.h = c.h
    ORDER BY pageviews DESC, path
    LIMIT {{limit:UInt32}}"""


def run(ctx: Context, params: Params) -> dict:
    rows = ctx.storage.dicts(pages_sql(ctx.scope.trusted_only, ctx.scope.filters), ctx.bind(limit=params.limit), what="pages report")
    return {"rows": shape(rows)}


def shape(rows: Sequence[Mapping[str, object]]) -> list[dict]:
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
