"""`/api/trust/promotions`: per promotion, how many clicks look non-human and from where.

How the query works: promo clicks of the range, each judged with the per-event rules of
`signals` (window functions over the visitor's events from a day before the range: was there
a prior view of that promo, how long after it came the click) and against the excluded
visitors of the range (its untrusted set, `trust.live`). A click is *suspicious* when it had no
prior view, came faster than the human floor, or came from an excluded visitor. Clicks are
grouped per (promo, IP prefix) first, so each promo keeps its top offending prefixes. On a
cluster each shard judges and groups its own visitors' clicks (`shard_local`); the
initiator adds the shards' (promo, prefix) counts up.
"""

from __future__ import annotations

from collections.abc import Mapping

from tracker.reports._sql import UNTRUSTED_VISITORS
from tracker.reports.figures import ratio
from tracker.reports.params import Listing
from tracker.reports.runner import Context
from tracker.reports.trust.signals import promo_rows_sql
from tracker.storage.shards import shard_local

TOP_PREFIXES = 5

Params = Listing


_CONTEXT = "ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 1 DAY AND ts < {end:DateTime64(3, 'UTC')}"

# Per (promo, prefix) on each shard: its visitors' clicks, judged per visitor.
_PER_SHARD = f"""
        SELECT promo_id, ip_prefix,
               count() AS clicks,
               countIf(view_ms = 0 OR at_ms - view_ms < {{tt_fast_click_ms:UInt32}} OR excluded) AS suspicious,
               countIf(view_ms = 0) AS without_view,
               countIf(view_ms > 0 AND at_ms - view_ms < {{tt_fast_click_ms:UInt32}}) AS fast,
               countIf(excluded) AS by_excluded
        FROM (
            SELECT promo_id, ip_prefix, view_ms, at_ms, vid IN ({UNTRUSTED_VISITORS}) AS excluded
            FROM ({promo_rows_sql(_CONTEXT)})
            WHERE type = 'promo_click' AND ts >= {{start:DateTime64(3, 'UTC')}}
        )
        GROUP BY promo_id, ip_prefix"""

SQL = f"""
    SELECT promo_id,
           sum(clicks) AS clicks,
           sum(suspicious) AS suspicious_clicks,
           sum(without_view) AS clicks_without_view,
           sum(fast) AS fast_clicks,
           sum(by_excluded) AS clicks_by_excluded,
           arraySlice(arrayReverseSort(p -> p.2, groupArrayIf((ip_prefix, suspicious), suspicious > 0 AND ip_prefix != '')),
                      1, {TOP_PREFIXES}) AS top
    FROM (
        SELECT promo_id, ip_prefix, sum(clicks) AS clicks, sum(suspicious) AS suspicious, sum(without_view) AS without_view,
               sum(fast) AS fast, sum(by_excluded) AS by_excluded
        FROM ({shard_local(_PER_SHARD)})
        GROUP BY promo_id, ip_prefix
    )
    GROUP BY promo_id
    ORDER BY suspicious_clicks DESC, clicks DESC, promo_id
    LIMIT {{limit:UInt32}}
"""


def shape(row: Mapping) -> dict:
    clicks, suspicious = int(row["clicks"]), int(row["suspicious_clicks"])
    share = ratio(suspicious, clicks)
    return {
        "promo_id": row["promo_id"],
        "clicks": clicks,
        "suspicious_clicks": suspicious,
        "suspicious_share": None if share is None else round(share, 6),
        "clicks_without_view": int(row["clicks_without_view"]),
        "fast_clicks": int(row["fast_clicks"]),
        "clicks_by_excluded": int(row["clicks_by_excluded"]),
        "top_prefixes": [{"ip_prefix": p, "suspicious_clicks": int(n)} for p, n in row["top"]],
    }


def run(ctx: Context, params: Params) -> dict:
    rows = ctx.storage.dicts(SQL, ctx.bind(limit=params.limit), what="trust promotions")
    return {"rows": [shape(r) for r in rows]}
