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

from tracker.reports import _sql, revenue
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


def run(ctx: Context, params: Params) -> dict:
    counting = revenue.money_of(ctx.storage, ctx.bind())
    rows = ctx.storage.dicts(sources_sql(ctx.scope.trusted_only, ctx.scope.filters, counting),
                             ctx.bind(limit=params.limit, **revenue.bind(counting)), what="sources report")
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
