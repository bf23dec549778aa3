"""`/api/trust/networks`: IP prefixes with many visitor ids or automated traffic.

How the query works: from `score.VISITOR_SCORES` (one row per visitor of the range), visitors
are grouped by the prefix of their first event: visitors, events, automated events (bot,
headless or webdriver), the most fresh ids seen within the churn window, excluded visitors
and how often each reason occurs. A prefix is listed when it shows churn-level numbers of
visitor ids, any automated event or any excluded visitor; a shared office with a few
ordinary visitors is not.
"""

from __future__ import annotations

from collections.abc import Mapping

from tracker.reports.params import Listing
from tracker.reports.runner import Context
from tracker.reports.trust.score import VISITOR_SCORES

Params = Listing


SQL = f"""
    SELECT first_prefix AS ip_prefix,
           count() AS visitors,
           groupArrayArray(reasons) AS all_reasons,
           sum(events) AS events,
           sum(bot_events + headless_events + webdriver_events) AS automated_events,
           max(churn_ids) AS max_fresh_ids,
           countIf(score <= {{threshold:UInt8}}) AS excluded_visitors,
           arrayMap(r -> (r, countEqual(all_reasons, r)), arrayDistinct(all_reasons)) AS reason_counts
    FROM ({VISITOR_SCORES})
    WHERE first_prefix != ''
    GROUP BY first_prefix
    HAVING visitors >= {{tt_churn_ids:UInt32}} OR automated_events > 0 OR excluded_visitors > 0
    ORDER BY excluded_visitors DESC, visitors DESC, ip_prefix
    LIMIT {{limit:UInt32}}
"""


def shape(row: Mapping) -> dict:
    return {
        "ip_prefix": row["ip_prefix"],
        "visitors": int(row["visitors"]),
        "events": int(row["events"]),
        "automated_events": int(row["automated_events"]),
        "max_fresh_ids": int(row["max_fresh_ids"]),
        "excluded_visitors": int(row["excluded_visitors"]),
        "reasons": {r: int(n) for r, n in sorted(row["reason_counts"], key=lambda x: (-x[1], x[0]))},
    }


def run(ctx: Context, params: Params) -> dict:
    rows = ctx.storage.dicts(SQL, ctx.bind_coverage(limit=params.limit), what="trust networks")
    return {"rows": [shape(r) for r in rows]}
