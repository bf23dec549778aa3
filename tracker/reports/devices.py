"""`devices`: sessions by device type, browser and operating system.

How the query works. The same sessions as `sources` (`_sql.sessions`: deduplicated,
range-limited, by default trusted and filtered events, cut at 30-minute gaps), each with the
device, browser and OS parsed from the user agent of its first event. Sessions are grouped by
that triple (distinct visitors as mergeable `uniqExact` states), and the few resulting rows are
unfolded into three (dimension, value) pairs and grouped again, so one read gives the three
breakdowns: distinct visitors, sessions, bounce rate, orders and revenue per
value. An empty value (a user agent nobody could parse) is shown as `(unknown)`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tracker.reports import _sql, revenue, session_days, session_parts
from tracker.reports.figures import money, ratio
from tracker.reports.params import Listing
from tracker.reports.runner import Context

Params = Listing
DIMENSIONS = ("device", "browser", "os")
UNKNOWN = "(unknown)"


def devices_sql(trusted_only: bool, filters=(), counting: revenue.Money | None = None) -> str:
    base = _sql.events(trusted_only, filters)
    # Orders and revenue as the site counts them: confirmed orders once it has any (revenue.py).
    base = revenue.events(base, counting) if counting else base
    # Sessions are first grouped by their (device, browser, OS) triple — a few dozen rows —
    # with distinct visitors kept as mergeable states; those few rows are then unfolded into
    # the three dimensions (unfolding every session first cost ~60% more CPU).
    return f"""
    SELECT pair.1 AS dimension, pair.2 AS value,
           uniqExactMerge(v) AS visitors,
           sum(n) AS sessions,
           sum(b) AS bounces,
           sum(o) AS orders,
           sum(r) AS revenue
    FROM (
        SELECT uniqExactState(visitor) AS v, count() AS n, sum(bounced) AS b, sum(length(buys)) AS o,
               sum(arraySum(x -> x.2, buys)) AS r, device, browser, os
        FROM ({_sql.sessions(base)})
        GROUP BY device, browser, os
    )
    ARRAY JOIN [('device', device), ('browser', browser), ('os', os)] AS pair
    GROUP BY dimension, value
    ORDER BY dimension, sessions DESC, value
    LIMIT {{limit:UInt32}} BY dimension"""


def rollup_sql(trusted_only: bool, counting: revenue.Money | None, *, sharded: bool = False) -> str:
    """The same rows from session parts (`session_parts`; bind `session_days.bind_coverage`)."""
    return f"""
    SELECT pair.1 AS dimension, pair.2 AS value, uniqExactMerge(v) AS visitors, sum(sessions) AS sessions,
           sum(bounces) AS bounces, sum(orders) AS orders, sum(revenue) AS revenue
    FROM ({session_parts.by_sql(trusted_only, counting, [(d, d) for d in DIMENSIONS], sharded=sharded)})
    ARRAY JOIN [('device', device), ('browser', browser), ('os', os)] AS pair
    GROUP BY dimension, value
    ORDER BY dimension, sessions DESC, value
    LIMIT {{limit:UInt32}} BY dimension"""


def run(ctx: Context, params: Params, *, rollups: bool = True) -> dict:
    """`rollups=False` always cuts sessions from raw events (the tests' twin); without filters a
    range with covered days reads session parts: the same rows."""
    counting = revenue.money_of(ctx.storage, ctx.bind())
    bind, rollup = ctx.bind(limit=params.limit, **revenue.bind(counting)), False
    if rollups:
        bind, rollup = session_days.use_rollup(ctx.storage, ctx.scope, bind, by_day=False)
    if rollup:
        sql = rollup_sql(ctx.scope.trusted_only, counting, sharded=bool(ctx.storage.cluster))
    else:
        sql = devices_sql(ctx.scope.trusted_only, ctx.scope.filters, counting)
    rows = ctx.storage.dicts(sql, bind, what="devices report", settings=session_parts.SETTINGS if rollup else None)
    return {"revenue_source": counting.source, "currency": counting.currency, **shape(rows)}


def shape(rows: Sequence[Mapping]) -> dict:
    """Rows of (dimension, value, counts) -> {"device": [...], "browser": [...], "os": [...]},
    each a list of rows with `value` and the measures, most sessions first (pure)."""
    out: dict[str, list[dict]] = {d: [] for d in DIMENSIONS}
    for r in rows:
        sessions = int(r["sessions"])
        out[str(r["dimension"])].append({
            "value": str(r["value"]) or UNKNOWN,
            "visitors": int(r["visitors"]),
            "sessions": sessions,
            "bounce_rate": ratio(int(r["bounces"]), sessions) or 0.0,
            "orders": int(r["orders"]),
            "revenue": money(r["revenue"]),
        })
    return out
