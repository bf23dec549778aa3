"""`sources`: where sessions come from, and what they are worth.

How the query works. `_sql.sessions` reads the deduplicated, range-limited (by default
trusted, and filtered) events once, cuts each visitor's timeline into sessions (30-minute gap
rule) and gives each session its source: the `utm_source` of its first event, else the
referrer host of its first pageview unless that is one of the site's own hosts, else
`(direct)`. Sessions are then grouped by source: distinct visitors, sessions, pageviews,
bounces (one pageview, no engagement event), orders (distinct purchase ids, `_sql.ORDER_ID`)
and their revenue. A visitor who came once from a newsletter and once from a search engine
counts under both. Rates are the pure `shape`.
"""

from __future__ import annotations

from collections.abc import Mapping

from tracker.reports import _sql, revenue, session_days, session_parts
from tracker.reports.figures import money, ratio
from tracker.reports.params import Listing
from tracker.reports.runner import Context

Params = Listing


def sources_sql(trusted_only: bool, filters=(), counting: revenue.Money | None = None) -> str:
    base = _sql.events(trusted_only, filters)
    # Orders and revenue as the site counts them: confirmed orders once it has any (revenue.py).
    base = revenue.events(base, counting) if counting else base
    return f"""
    SELECT source,
           uniqExact(visitor) AS visitors,
           count() AS sessions,
           sum(pageviews) AS pageviews,
           sum(bounced) AS bounces,
           sum(length(buys)) AS orders,
           sum(arraySum(o -> o.2, buys)) AS revenue
    FROM ({_sql.sessions(base)})
    GROUP BY source
    ORDER BY visitors DESC, sessions DESC, source
    LIMIT {{limit:UInt32}}"""


def rollup_sql(trusted_only: bool, counting: revenue.Money | None, *, sharded: bool = False) -> str:
    """The same rows from session parts (`session_parts`; bind `session_days.bind_coverage`)."""
    return f"""
    SELECT source, finalizeAggregation(v) AS visitors, sessions, pageviews, bounces, orders, revenue
    FROM ({session_parts.by_sql(trusted_only, counting, [("source", session_parts.SOURCE)], sharded=sharded)})
    ORDER BY visitors DESC, sessions DESC, source
    LIMIT {{limit:UInt32}}"""


def run(ctx: Context, params: Params, *, rollups: bool = True) -> dict:
    """`rollups=False` always cuts sessions from raw events (the tests' twin). Without filters,
    a range with covered days reads session parts: the same rows, without a GROUP BY visitor
    over every event."""
    counting = revenue.money_of(ctx.storage, ctx.bind())
    bind = ctx.bind(limit=params.limit, **revenue.bind(counting))
    bind, rollup = session_days.use_rollup(ctx.storage, ctx.scope, bind, by_day=False) if rollups else (bind, False)
    if rollup:
        sql = rollup_sql(ctx.scope.trusted_only, counting, sharded=bool(ctx.storage.cluster))
    else:
        sql = sources_sql(ctx.scope.trusted_only, ctx.scope.filters, counting)
    rows = ctx.storage.dicts(sql, bind, what="sources report", settings=session_parts.SETTINGS if rollup else None)
    return {"revenue_source": counting.source, "currency": counting.currency, "rows": [shape(r) for r in rows]}


def shape(row: Mapping) -> dict:
    """Counts to a report row: bounce rate as a proportion of sessions, money to the cent (pure)."""
    sessions = int(row["sessions"])
    return {
        "source": str(row["source"]),
        "visitors": int(row["visitors"]),
        "sessions": sessions,
        "pageviews": int(row["pageviews"]),
        "bounce_rate": ratio(int(row["bounces"]), sessions) or 0.0,
        "orders": int(row["orders"]),
        "revenue": money(row["revenue"]),
    }
