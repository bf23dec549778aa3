"""The range's sessions stitched from session fragments (`session_days`): what `sources`,
`devices` and `campaigns` read instead of `_sql.sessions` when the range has covered days.

Each fragment lists the sessions cut within its UTC day (`s_*` columns: first and last ms,
pageviews, engagement, the UTM tags and user agent of the event at its first ms, and the
(referrer host, host) pairs of the pageviews at its first pageview's ms). Per visitor, the
parts of every fragment are put in time order; a part that starts at most 30 minutes after the
previous part ended continues it (only possible across midnight: within a day the cut already
split there). A stitched session takes its first part's start, tags and agent, the last part's
end, the summed pageviews and any engagement, and the landing referrer of the first part with
a pageview, judged at report time against the site's own hosts (as `_sql.sessions` does), so
a changed origin list changes the answer the same way. Purchases come as rows through the
money rules (`revenue.events`) and are given to the session whose [first, last] ms holds them.
"""

from __future__ import annotations

from tracker.reports import _sql, session_days

# `_sql.OWN_HOSTS` with its column named, read once as an array.
OWN_HOSTS = "SELECT arrayJoin(arrayMap(o -> domain(o), origins)) AS h FROM sites WHERE site = {site:String}"
_PARTS = "arrayZip(s_start, s_end, s_pv, s_eng, s_touch, s_agent, s_landing) AS parts"


def sessions(trusted_only: bool, money_rules=None) -> str:
    """One row per session, with the columns of `_sql.sessions` that the reports read: `visitor`,
    `start_ms`, `end_ms`, `utm_source`, `utm_medium`, `utm_campaign`, `source`, `device`,
    `browser`, `os`, `pageviews`, `bounced`, `buys` (distinct (order id, revenue) pairs), and
    for `campaigns`: `touch` (the tags tuple), `first_of_touch` (1 on the visitor's first
    session with that touch), `purchases` and `purchase_revenue` (every counted purchase event)."""
    keep = f"WHERE visitor NOT IN ({_sql.UNTRUSTED_KEYS})" if trusted_only else ""
    return f"""
    WITH (SELECT groupArray(h) FROM ({OWN_HOSTS})) AS own_hosts
    SELECT visitor, s.1 AS start_ms, s.2 AS end_ms, s.3 AS pageviews, toUInt8(s.3 = 1 AND s.4 = 0) AS bounced,
           s.5 AS touch, touch.1 AS utm_source, touch.2 AS utm_medium, touch.3 AS utm_campaign,
           arrayFirst(r -> r.1 != '' AND r.1 != r.2 AND NOT has(own_hosts, r.1), s.7).1 AS landing_ref,
           multiIf(utm_source != '', utm_source, landing_ref != '', landing_ref, '(direct)') AS source,
           s.6.1 AS device, s.6.2 AS browser, s.6.3 AS os,
           first_of_touch,
           arrayFilter(b -> b.2 >= start_ms AND b.2 <= end_ms, orders) AS in_session,
           arrayDistinct(arrayMap(b -> (b.1, b.3), in_session)) AS buys,
           length(in_session) AS purchases,
           arraySum(b -> b.4, in_session) AS purchase_revenue
    FROM (
        SELECT visitor,
               arraySort(p -> p.1, arrayFlatten(groupArrayIf(parts, j = 1))) AS ps,
               arrayMap((p, i) -> toUInt8(i > 1 AND p.1 - ps[i - 1].2 <= {_sql.SESSION_GAP_MS}), ps, arrayEnumerate(ps)) AS cont,
               arraySplit((p, c) -> c = 0, ps, cont) AS groups,
               arrayMap(g -> (g[1].1, g[-1].2, arraySum(p -> p.3, g), arrayMax(p -> p.4, g), g[1].5, g[1].6,
                              arrayFirst(p -> p.3 > 0, g).7), groups) AS stitched,
               arrayMap(n -> toUInt8(n = 1), arrayEnumerateUniq(arrayMap(x -> x.5, stitched))) AS firsts,
               groupArrayIf((order_id, ms, toFloat64(revenue), revenue), type = 'purchase' AND order_id != '') AS orders
        FROM ({session_days.rows(money_rules or (lambda b: b), _PARTS)})
        {keep}
        GROUP BY visitor
    )
    ARRAY JOIN stitched AS s, firsts AS first_of_touch"""
