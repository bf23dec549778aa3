"""Session parts per (site, UTC day, visitor, session): the rollup of `sources`, `campaigns` and
`devices` (issue #15).

Why. Those reports cut every event of the range into sessions per visitor at query time
(`_sql.sessions`): at 10M events that GROUP BY over every event, with side arrays for tags,
referrers, agents and purchases, took 1.2-2.9 s. A closed UTC day does not change, so its
sessions are kept cut, one row each (`session_parts`, built with the day's fragments by
`session_days.build_day` under the same `computed_at` and covered by the same
`session_coverage` row): a report then groups a few rows per visitor instead of every event.

What a part keeps. Its first and last event (epoch ms), pageviews, whether it had an
engagement event, the UTM tags of an event at its first instant, the outside referrer hosts
of its first pageview (the page's own host left out; the site's registered hosts are left out
at report time, since origins can change), the path hash of its first pageview, the device,
browser and OS of an event at its first instant, and every purchase event as stored (money
rules change with the orders table, so `revenue.events` applies them at report time).

Midnight. A session cut within its day alone is whole unless it runs across midnight: then
its parts are consecutive parts of one visitor at most 30 minutes apart, and both lie within
30 minutes of that midnight (`EDGE`, a few percent of parts). `sessions_sql` passes the other
parts through as sessions and groups only the edge parts per visitor, joining consecutive ones
(`_sql.SESSION_GAP_MS`): the session takes its first part's start, tags and agent, its first
pageview's referrers and entry, and the sums of the rest. A part of the range's uncovered days
(today, partial edge days, stale days) is cut live from raw events by the same SQL (`LIVE`).
The figures are the raw queries', checked by tests/reports/test_session_parts.py.
"""

from __future__ import annotations

from collections.abc import Sequence

from tracker.reports import _sql, revenue, session_days
from tracker.storage.client import Storage
from tracker.storage.shards import local, shard_local

GAP = _sql.SESSION_GAP_MS
SETTINGS = {"enable_materialized_cte": 1}  # for `by_sql`
COLUMNS = ("visitor", "vid", "day", "start_ms", "end_ms", "pageviews", "engaged", "utm_source", "utm_medium", "utm_campaign",
           "refs", "entry", "pages", "device", "browser", "os", "purchases")
_COLUMNS = ", ".join(COLUMNS)


def parts_sql(where: str, table: str = "events") -> str:
    """One row per session cut within each visitor's UTC day, of the site's events of `table`
    matching `where` (a fixed predicate on `ts` written in this package, never user input).
    Keys pack epoch ms * 4 + 2 * engagement + pageview, as `_sql.sessions` does."""
    return f"""
    SELECT visitor, any_vid AS vid, day,
           toInt64(intDiv(visit[1], 4)) AS start_ms, toInt64(intDiv(visit[-1], 4)) AS end_ms,
           toUInt32(arrayCount(x -> x % 2 = 1, visit)) AS pageviews,
           toUInt8(arrayExists(x -> intDiv(x, 2) % 2 = 1, visit)) AS engaged,
           arrayFirst(x -> x.1 = start_ms, tags) AS touch,
           touch.2 AS utm_source, touch.3 AS utm_medium, touch.4 AS utm_campaign,
           if(pageviews > 0, toInt64(intDiv(arrayFirst(x -> x % 2 = 1, visit), 4)), -1) AS pv_ms,
           arrayMap(r -> r.2, arrayFilter(r -> r.1 = pv_ms, all_refs)) AS refs,
           if(pageviews > 0, arrayFirst(v -> v.1 = pv_ms, views).2, 0) AS entry,
           arrayMap(v -> v.2, arraySort(v -> v.1, arrayFilter(v -> v.1 >= start_ms AND v.1 <= end_ms, views))) AS pages,
           arrayFirst(a -> a.1 = start_ms, agents) AS agent,
           agent.2 AS device, agent.3 AS browser, agent.4 AS os,
           arrayMap(p -> p.2, arrayFilter(p -> p.1 >= start_ms AND p.1 <= end_ms, buys)) AS purchases
    FROM (
        SELECT {_sql.VISITOR} AS visitor, toDate(ts) AS day, any(vid) AS any_vid,
               arraySort(groupArray(toUInt64(t_ms) * 4 + 2 * engaged + (type = 'pageview'))) AS keys,
               arraySplit((x, i) -> i = 1 OR intDiv(x, 4) - intDiv(keys[i - 1], 4) > {GAP}, keys, arrayEnumerate(keys)) AS visits,
               groupArrayIf((t_ms, toString(utm_source), toString(utm_medium), toString(utm_campaign)),
                            utm_source != '' OR utm_medium != '' OR utm_campaign != '') AS tags,
               groupArrayIf((t_ms, toString(ref_host)), type = 'pageview' AND ref_host != '' AND ref_host != host) AS all_refs,
               groupArrayIf((t_ms, cityHash64(path)), type = 'pageview') AS views,
               groupArray((t_ms, toString(ua_device), toString(ua_browser), toString(ua_os))) AS agents,
               groupArrayIf((t_ms, (event_id, order_id, revenue, toString(currency), toString(coupon), t_ms)), type = 'purchase') AS buys
        FROM (
            SELECT *, toInt64(toUnixTimestamp64Milli(ts)) AS t_ms, toUInt8({_sql.IS_ENGAGEMENT}) AS engaged
            FROM {table} FINAL
            WHERE site = {{site:String}} AND {where}
        )
        GROUP BY visitor, day
    )
    ARRAY JOIN visits AS visit"""


BUILD = f"""
    INSERT INTO session_parts (site, computed_at, {_COLUMNS})
    SELECT {{site:String}}, {{computed_at:DateTime64(3, 'UTC')}}, {_COLUMNS}
    FROM ({parts_sql("ts >= {lo:DateTime64(3, 'UTC')} AND ts < {hi:DateTime64(3, 'UTC')}")})
"""


def build_day(storage: Storage, params: dict) -> None:
    """Insert the parts of one site-day's window ({site}, {lo}, {hi}) under {computed_at}
    (`session_days.build_day` records the coverage of both tables after this)."""
    storage.command(BUILD, params, what="building session parts")


# The parts of a report range: stored ones of covered days ({sr_cov}, `session_days.bind_coverage`),
# live ones for the rest; without untrusted visitors when asked.
_STORED = f"""
    SELECT {_COLUMNS}
    FROM {local("session_parts")}
    WHERE site = {{site:String}} AND (day, computed_at) IN {{sr_cov:Array(Tuple(Date, DateTime64(3, 'UTC')))}}"""

_LIVE = parts_sql(session_days.UNCOVERED, table=local("events"))

# A part that could share its session with a neighbour (`session_days.edge`).
EDGE = session_days.edge("start_ms", "end_ms")


def parts(trusted_only: bool, where: str = "1") -> str:
    """The range's parts matching `where` (on part columns)."""
    keep = f" AND visitor NOT IN ({_sql.UNTRUSTED_KEYS})" if trusted_only else ""
    return f"""
        SELECT {_COLUMNS} FROM ({_STORED}) WHERE ({where}){keep}
        UNION ALL
        SELECT {_COLUMNS} FROM ({_LIVE}) WHERE ({where}){keep}"""


# Columns of a stitched session (`sessions_sql`).
_SESSION = ("visitor", "start_ms", "end_ms", "pageviews", "bounced", "utm_source", "utm_medium", "utm_campaign", "refs", "entry",
            "pages", "device", "browser", "os", "purchases")


def sessions_sql(trusted_only: bool, *, having: str = "") -> str:
    """One row per session of the range, as `_sql.sessions` cuts them, with the columns of
    `_SESSION` (`bounced`: one pageview and no engagement event; `refs` not yet cleared of
    the site's own hosts, `source` does that; `pages`: the path hashes viewed, in order).
    `having`: only sessions it holds for, a condition on `pages` and `purchases` alone (so it
    reads the same on a part that is a whole session and on a joined one), e.g.
    `notEmpty(purchases)` for the money side of a report. Shard-local on a cluster: a
    visitor's parts lie on its shard."""
    cond = having or "1"
    return shard_local(f"""
    SELECT visitor, start_ms, end_ms, pageviews, toUInt8(pageviews = 1 AND engaged = 0) AS bounced,
           utm_source, utm_medium, utm_campaign, refs, entry, pages, device, browser, os, purchases
    FROM ({parts(trusted_only, f"NOT {EDGE} AND {cond}")})
    UNION ALL
    SELECT {", ".join(_SESSION)} FROM (
    SELECT visitor, g[1].1 AS start_ms, g[-1].2 AS end_ms, toUInt32(arraySum(p -> p.3, g)) AS pageviews,
           toUInt8(pageviews = 1 AND NOT arrayExists(p -> p.4 = 1, g)) AS bounced,
           g[1].5 AS utm_source, g[1].6 AS utm_medium, g[1].7 AS utm_campaign,
           arrayFirst(p -> p.3 > 0, g) AS landing, landing.8 AS refs, landing.9 AS entry,
           arrayFlatten(arrayMap(p -> p.14, g)) AS pages,
           g[1].10 AS device, g[1].11 AS browser, g[1].12 AS os, arrayFlatten(arrayMap(p -> p.13, g)) AS purchases
    FROM (
        SELECT visitor,
               arraySort(p -> p.1, groupArray((start_ms, end_ms, pageviews, engaged, utm_source, utm_medium, utm_campaign,
                                               refs, entry, device, browser, os, purchases, pages))) AS ps,
               arraySplit((p, i) -> i = 1 OR p.1 - ps[i - 1].2 > {GAP}, ps, arrayEnumerate(ps)) AS groups
        FROM ({parts(trusted_only, EDGE)})
        GROUP BY visitor
    )
    ARRAY JOIN groups AS g)
    WHERE {cond}""")


# The session's source, as `_sql.sessions` gives it: its first event's utm_source, else the
# first outside referrer host of its first pageview that is not one of the site's hosts.
SOURCE = f"""multiIf(utm_source != '', utm_source,
                     arrayFirst(r -> NOT has(own_hosts, r), refs) AS landing_ref != '', landing_ref, '(direct)')"""
# The site's registered hosts (`_sql.OWN_HOSTS`) as one array.
OWN_HOSTS = "(SELECT arrayFlatten(groupArray(arrayMap(o -> domain(o), origins))) FROM sites WHERE site = {site:String})"


def by_sql(trusted_only: bool, counting: revenue.Money | None, keys: Sequence[tuple[str, str]], *, sharded: bool = False) -> str:
    """Sessions summed per `keys` ((name, expression on a session) pairs): `v` (distinct visitors
    as a uniqExact state), `sessions`, `pageviews`, `bounces`, and money as the raw reports count
    it, through the site's money rules (`revenue.events`) applied to the purchases of the
    sessions that have any: `orders` and `revenue` (distinct (order id, revenue) pairs per
    session, as `_sql.sessions` gives `buys`), `conversions` (counted purchases), `converting`
    (sessions with one) and `conversion_revenue` (their revenue, as `campaigns` sums it).

    On one node the sessions are cut once into a materialised CTE that both sides read (~15 %
    faster than stitching twice at 10M events); on a cluster (`sharded`) a CTE cannot reach the
    shards, so the money side stitches the buyers' sessions again, shard-local. Run it with
    `SETTINGS` (the CTE's switch)."""
    names = ", ".join(name for name, _ in keys)
    pick = ", ".join(f"{expr} AS {name}" for name, expr in keys)
    own = f"WITH {OWN_HOSTS} AS own_hosts"  # for SOURCE
    every = f"{own} SELECT visitor, start_ms, pageviews, bounced, purchases, {pick} FROM ({sessions_sql(trusted_only)})"
    if sharded:
        sessions, with_cte = f"({every})", ""
        buyers = f'({own} SELECT visitor, start_ms, purchases, {pick} FROM ({sessions_sql(trusted_only, having="notEmpty(purchases)")}))'
    else:
        sessions, with_cte = "sessions_cut", f"WITH sessions_cut AS MATERIALIZED ({every})"
        buyers = "(SELECT * FROM sessions_cut WHERE notEmpty(purchases))"
    buys = f"""
                SELECT visitor, start_ms, {names}, 'purchase' AS type, p.1 AS event_id, p.2 AS order_id, p.3 AS revenue,
                       p.4 AS currency, p.5 AS coupon
                FROM {buyers}
                ARRAY JOIN purchases AS p"""
    money = revenue.events(buys, counting) if counting else buys
    return f"""
    {with_cte}
    SELECT {names}, s.v AS v, s.sessions AS sessions, s.pageviews AS pageviews, s.bounces AS bounces,
           m.orders AS orders, m.revenue AS revenue, m.conversions AS conversions, m.converting AS converting,
           m.conversion_revenue AS conversion_revenue
    FROM (
        SELECT {names}, uniqExactState(visitor) AS v, count() AS sessions, sum(pageviews) AS pageviews, sum(bounced) AS bounces
        FROM {sessions}
        GROUP BY {names}
    ) AS s
    LEFT JOIN (
        SELECT {names}, sum(length(buys)) AS orders, sum(arraySum(b -> b.2, buys)) AS revenue,
               sum(n) AS conversions, countIf(n > 0) AS converting, sum(r) AS conversion_revenue
        FROM (
            SELECT {names}, groupUniqArrayIf((oid, orev), oid != '') AS buys, countIf(counted) AS n, sumIf(revenue, counted) AS r
            FROM (
                SELECT *, {_sql.ORDER_ID} AS oid, {_sql.ORDER_REVENUE} AS orev, {revenue.COUNTED} AS counted
                FROM ({money})
            )
            GROUP BY {names}, visitor, start_ms
        )
        GROUP BY {names}
    ) AS m USING ({names})"""
