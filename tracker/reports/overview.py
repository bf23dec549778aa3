"""`overview`: visitors, sessions, pageviews, bounce rate, session length, orders and revenue, and a daily series.

How the query works. One query, one read of the deduplicated, range-limited events of
`_sql.timeline_source` (FINAL: an event id delivered twice counts once):
- A GROUP BY visitor builds each visitor's timeline (`_sql.TIMELINE`: sorted packed ms keys, a
  pageview flag, and a new-session flag where the gap to the previous event is over 30
  minutes). Per visitor it yields the number of sessions, of bounced sessions (exactly one
  pageview and no engagement event, `_sql.ENGAGEMENT`: `arraySplit` cuts the (pageview,
  engagement) flags at session starts and counts the splits summing to (1, 0)), the summed
  session length (the sum of within-session gaps) and its purchases (`_sql.ORDER_ID`,
  `_sql.ORDER_REVENUE`, with their day in `tz`).
- Money: the kept visitors' purchases are gathered sorted by order id and day, and each order
  id counts once, on the first day it was seen (`orders`, `revenue`, and per day);
  `conversion_rate` is the kept visitors with a purchase over the kept visitors; `aov` is
  revenue / orders (null without orders).
- The same per-visitor row says whether the traffic rule keeps the visitor (the minimum of
  `_sql.trusted_visitor` over its events, against the range's cached untrusted set); the outer
  query adds up the kept visitors and counts the others as `excluded_visitors` (0 with
  `traffic=all`).
- Time series: each visitor's distinct calendar days in `tz` and the days of its pageviews,
  summed per day across visitors with `sumMap`; days without events are filled with zeros in
  `fill_days`, so every day of the range appears.
- On a cluster the per-visitor level runs on each shard (`shard_local`); the sums and the
  order dedup (an order id counts once across all visitors) run on the initiator.

The rollup. Without filters, for a tz whose days are whole UTC hours, a range with closed
days whose session fragments are built reads them instead (`overview_rollup`, two small
queries, the same figures; `rollups=False` forces the raw query).

`bounce_rate` is the fraction (0..1) of sessions that bounced, over all
sessions; `avg_session_seconds` is the mean of (last event - first event) over sessions, so a
single-event session counts as 0 seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from tracker.reports import _sql, overview_rollup, revenue, session_days
from tracker.reports.figures import cents, money, ratio
from tracker.reports.params import NoParams
from tracker.reports.runner import Context
from tracker.storage.shards import shard_local

Params = NoParams


def overview_sql(trusted_only: bool, filters=(), counting: revenue.Money | None = None) -> str:
    extra = (f", {_sql.trusted_visitor(trusted_only)} AS tr, toUInt8({_sql.IS_ENGAGEMENT}) AS eng,"
             f" {_sql.ORDER_ID} AS oid, {_sql.ORDER_REVENUE} AS orev, toDate(ts, {{tz:String}}) AS d")
    per_visitor = f"""
            SELECT visitor, {_sql.TIMELINE},
                min(tr) AS trusted,
                arraySum(pv) AS pageviews,
                arraySum(new) AS sessions,
                arraySort((x, key) -> key, groupArray(eng), groupArray(k)) AS engaged,
                arrayCount(s -> arraySum(x -> x.1, s) = 1 AND arraySum(x -> x.2, s) = 0,
                           arraySplit((x, n) -> n = 1, arrayZip(pv, engaged), new)) AS bounces,
                arraySum((gap, n) -> if(n = 1, 0, gap), arrayDifference(t), new) AS session_ms,
                arrayMap(x -> toDate(toDateTime(intDiv(x, 1000), 'UTC'), {{tz:String}}), t) AS event_days,
                arrayDistinct(event_days) AS days,
                arrayFilter((d, f) -> f = 1, event_days, pv) AS pv_days,
                groupArrayIf((oid, d, orev), oid != '') AS buys
            FROM ({_sql.timeline_source(False, extra, filters, base=revenue.events(_sql.events(False, filters), counting) if counting else "")})
            GROUP BY visitor"""
    return f"""
    SELECT *,
           arrayFilter((b, i) -> i = 1 OR b.1 != all_buys[i - 1].1, all_buys, arrayEnumerate(all_buys)) AS distinct_orders,
           length(distinct_orders) AS orders,
           arraySum(b -> b.3, distinct_orders) AS revenue,
           arrayReduce('sumMap', arrayMap(b -> [b.2], distinct_orders), arrayMap(b -> [toUInt64(1)], distinct_orders)) AS day_orders,
           arrayReduce('sumMap', arrayMap(b -> [b.2], distinct_orders), arrayMap(b -> [b.3], distinct_orders)) AS day_revenue
    FROM (
        SELECT countIf(trusted = 1) AS visitors,
               sumIf(pageviews, trusted = 1) AS pageviews,
               sumIf(sessions, trusted = 1) AS sessions,
               sumIf(bounces, trusted = 1) AS bounces,
               sumIf(session_ms, trusted = 1) AS session_ms,
               countIf(trusted = 0) AS excluded,
               countIf(trusted = 1 AND length(buys) > 0) AS buyers,
               arraySort(groupArrayArrayIf(buys, trusted = 1)) AS all_buys,
               sumMapIf(days, arrayWithConstant(length(days), toUInt64(1)), trusted = 1) AS day_visitors,
               sumMapIf(pv_days, arrayWithConstant(length(pv_days), toUInt64(1)), trusted = 1) AS day_pageviews
        FROM ({shard_local(per_visitor)}
        )
    )"""


def run(ctx: Context, params: Params, *, rollups: bool = True) -> dict:
    """`rollups=False` always cuts sessions from raw events (the tests' and benchmarks' twin).
    Without filters, and with days in tz that are whole UTC hours, a range with covered days
    reads the session fragments (`overview_rollup`): the same figures, in two small queries."""
    scope = ctx.scope
    counting = revenue.money_of(ctx.storage, ctx.bind())
    bind = ctx.bind(**revenue.bind(counting))
    bind, rollup = session_days.use_rollup(ctx.storage, scope, bind, by_day=True) if rollups else (bind, False)
    if rollup:
        row = ctx.storage.query(overview_rollup.totals_sql(scope.trusted_only, utc=scope.tz == "UTC"), bind,
                                what="overview report").first() or {}
        row.update(ctx.storage.query(overview_rollup.money_sql(scope.trusted_only, counting), bind, what="overview report").first() or {})
    else:
        row = ctx.storage.query(overview_sql(scope.trusted_only, scope.filters, counting), bind, what="overview report").first() or {}
    series = {}
    for key in ("day_visitors", "day_pageviews", "day_orders", "day_revenue"):
        days, values = row.get(key) or ([], [])
        series[key.removeprefix("day_")] = dict(zip(days, values))
    # Confirmed orders without a browser purchase have no visitor or session: they add to
    # orders and revenue (not to conversions), and no filter can match them.
    every_orphan = [] if scope.filters else revenue.orphans(ctx.storage, bind, counting)
    orphans = [o for o in every_orphan if o["currency"] == counting.currency]
    for o in orphans:
        series["orders"][o["day"]] = series["orders"].get(o["day"], 0) + int(o["orders"])
        series["revenue"][o["day"]] = series["revenue"].get(o["day"], 0) + float(o["revenue"])
    row = {**row, "orders": int(row.get("orders") or 0) + sum(int(o["orders"]) for o in orphans),
           "revenue": (row.get("revenue") or 0) + sum(float(o["revenue"]) for o in orphans)}
    daily = [{"day": d, **{k: series[k].get(d, 0) for k in series}} for d in set().union(*series.values())]
    return {
        **shape(row),
        "excluded_visitors": int(row.get("excluded") or 0),
        "timeseries": fill_days(scope.start, scope.end, daily),
        **revenue.overview_fields(ctx.storage, bind, counting, _sql.events(scope.trusted_only, scope.filters), every_orphan),
    }


def shape(totals: Mapping[str, object]) -> dict:
    """Totals row -> the headline figures (pure: tested without a database)."""
    visitors = int(totals.get("visitors") or 0)
    sessions = int(totals.get("sessions") or 0)
    bounces = int(totals.get("bounces") or 0)
    session_ms = int(totals.get("session_ms") or 0)
    orders = int(totals.get("orders") or 0)
    revenue = money(totals.get("revenue"))
    return {
        "visitors": visitors,
        "sessions": sessions,
        "pageviews": int(totals.get("pageviews") or 0),
        "bounces": bounces,
        "bounce_rate": ratio(bounces, sessions) or 0.0,  # no sessions: nothing bounced
        "avg_session_seconds": session_ms / 1000 / sessions if sessions else 0.0,
        "orders": orders,
        "revenue": revenue,
        "conversion_rate": ratio(int(totals.get("buyers") or 0), visitors) or 0.0,  # visitors with a purchase / visitors
        "aov": cents(ratio(revenue, orders)),  # null without orders
    }


def fill_days(start: date, end: date, rows: Sequence[Mapping[str, object]]) -> list[dict]:
    """One entry per day of [start, end], zeros where ClickHouse returned no row (pure)."""
    by_day = {row["day"]: row for row in rows}
    out = []
    day = start
    while day <= end:
        row = by_day.get(day) or {}
        out.append({"date": day.isoformat(), "visitors": int(row.get("visitors") or 0), "pageviews": int(row.get("pageviews") or 0),
                    "orders": int(row.get("orders") or 0), "revenue": money(row.get("revenue"))})
        day += timedelta(days=1)
    return out
