"""`campaigns`: visits and sales per marketing campaign (utm_source / utm_medium / utm_campaign).

How the query works. Over the deduplicated, range-limited (and by default trusted) events, each
visitor's events are cut into sessions wherever the gap between two consecutive events exceeds
30 minutes (one GROUP BY vid into a sorted array of packed keys, split with `arraySplit`, the
shared `_sql.SESSION_GAP_MS` rule). A session belongs to the campaign of its FIRST event — the
landing hit that carried the UTM tags (tags of an event at the session's first millisecond); a
session without tags lands in the row with empty tags (direct or untagged traffic). Sessions are
then summed per campaign: visitors, sessions, pageviews, and the purchases made in those
sessions (so a purchase is credited to the first touch of the session that led to it). Email
newsletters are ordinary rows (`utm_medium=email`). On a cluster the sessions are cut on each
shard (`shard_local`: one small row per session travels) and summed on the initiator.
"""

from __future__ import annotations

from collections.abc import Mapping

from tracker.reports import _sql, revenue, session_days, session_parts
from tracker.reports.figures import cents, money, ratio
from tracker.reports.params import NoParams
from tracker.reports.runner import Context
from tracker.storage.shards import shard_local

Params = NoParams


def campaigns_sql(trusted_only: bool, counting: revenue.Money, filters=()) -> str:
    # Per visitor, one sorted array of packed keys (epoch ms * 4 + 2 * purchase + pageview)
    # carries everything sessions need; only the few events with UTM tags and the purchases
    # bring their strings and revenue, in small side arrays looked up by time. The session's
    # touch is the tags of an event at the session's first instant. Distinct visitors per
    # campaign are a sum of each visitor's first session with that touch, not a uniqExact.
    per_session = f"""
        SELECT touch, first_of_touch,
               toInt64(intDiv(s[1], 4)) AS first_t, toInt64(intDiv(s[-1], 4)) AS last_t,
               arrayCount(x -> x % 2 = 1, s) AS session_pageviews,
               arrayCount(x -> intDiv(x, 2) % 2 = 1, s) AS session_purchases,
               arraySum(x -> if(x.1 >= first_t AND x.1 <= last_t, x.2, 0), buys) AS session_revenue
        FROM (
            SELECT arraySort(groupArray(k)) AS keys,
                   arrayMap(x -> toInt64(intDiv(x, 4)), keys) AS t,
                   arraySplit((x, gap, i) -> i = 1 OR gap > {_sql.SESSION_GAP_MS}, keys, arrayDifference(t), arrayEnumerate(t)) AS visits,
                   groupArrayIf((t_ms, (utm_source, utm_medium, utm_campaign)), tagged) AS tags,
                   arrayMap(v -> arrayFirst(x -> x.1 = toInt64(intDiv(v[1], 4)), tags).2, visits) AS touches,
                   arrayMap(n -> toUInt8(n = 1), arrayEnumerateUniq(touches)) AS firsts,
                   groupArrayIf((t_ms, revenue), {revenue.COUNTED}) AS buys
            FROM (
                SELECT vid, type, order_id, revenue, utm_source, utm_medium, utm_campaign,
                       toInt64(toUnixTimestamp64Milli(ts)) AS t_ms,
                       toUInt64(t_ms) * 4 + 2 * {revenue.COUNTED} + (type = 'pageview') AS k,
                       utm_source != '' OR utm_medium != '' OR utm_campaign != '' AS tagged
                FROM ({revenue.events(_sql.events(trusted_only, filters), counting)})
            )
            GROUP BY {_sql.VISITOR}
        )
        ARRAY JOIN visits AS s, touches AS touch, firsts AS first_of_touch"""
    return f"""
    SELECT touch.1 AS utm_source, touch.2 AS utm_medium, touch.3 AS utm_campaign,
           sum(first_of_touch) AS visitors,
           count() AS sessions,
           sum(session_pageviews) AS pageviews,
           sum(session_purchases) AS conversions,
           countIf(session_purchases > 0) AS converting_sessions,
           sum(session_revenue) AS campaign_revenue
    FROM ({shard_local(per_session)}
    )
    GROUP BY touch
    ORDER BY sessions DESC, conversions DESC, utm_source, utm_medium, utm_campaign
    """


TAGS = (("utm_source", "utm_source"), ("utm_medium", "utm_medium"), ("utm_campaign", "utm_campaign"))


def rollup_sql(trusted_only: bool, counting: revenue.Money, *, sharded: bool = False) -> str:
    """The same rows from session parts (`session_parts`; bind `session_days.bind_coverage`)."""
    return f"""
    SELECT utm_source, utm_medium, utm_campaign, finalizeAggregation(v) AS visitors, sessions, pageviews,
           conversions, converting AS converting_sessions, conversion_revenue AS campaign_revenue
    FROM ({session_parts.by_sql(trusted_only, counting, TAGS, sharded=sharded)})
    ORDER BY sessions DESC, conversions DESC, utm_source, utm_medium, utm_campaign"""


def run(ctx: Context, params: Params, *, rollups: bool = True) -> dict:
    """`rollups=False` always cuts sessions from raw events (the tests' twin); without filters a
    range with covered days reads session parts: the same rows."""
    counting = revenue.money_of(ctx.storage, ctx.bind())
    bind, rollup = ctx.bind(**revenue.bind(counting)), False
    if rollups:
        bind, rollup = session_days.use_rollup(ctx.storage, ctx.scope, bind, by_day=False)
    if rollup:
        sql = rollup_sql(ctx.scope.trusted_only, counting, sharded=bool(ctx.storage.cluster))
    else:
        sql = campaigns_sql(ctx.scope.trusted_only, counting, ctx.scope.filters)
    rows = ctx.storage.dicts(sql, bind, what="campaigns report", settings=session_parts.SETTINGS if rollup else None)
    return {"revenue_source": counting.source, "currency": counting.currency, "rows": [shape(r) for r in rows]}


def shape(row: Mapping) -> dict:
    """Counts to the report's row: money to the cent, rates as proportions (pure)."""
    sessions = int(row["sessions"])
    conversions = int(row["conversions"])
    converting = int(row["converting_sessions"])
    revenue = money(row["campaign_revenue"])
    return {
        "utm_source": row["utm_source"],
        "utm_medium": row["utm_medium"],
        "utm_campaign": row["utm_campaign"],
        "visitors": int(row["visitors"]),
        "sessions": sessions,
        "pageviews": int(row["pageviews"]),
        "conversions": conversions,
        "converting_sessions": converting,
        "revenue": revenue,
        # Share of the campaign's sessions with at least one purchase.
        "conversion_rate": ratio(converting, sessions),
        "aov": cents(ratio(revenue, conversions)),
        "revenue_per_session": cents(ratio(revenue, sessions)),
    }
