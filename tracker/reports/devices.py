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

from tracker.reports import _sql, revenue
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


def run(ctx: Context, params: Params) -> dict:
    counting = revenue.money_of(ctx.storage, ctx.bind())
    rows = ctx.storage.dicts(devices_sql(ctx.scope.trusted_only, ctx.scope.filters, counting),
                             ctx.bind(limit=params.limit, **revenue.bind(counting)), what="devices report")
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
