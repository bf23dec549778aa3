"""Trust signals on money: what a visitor's browser claimed against what the shop confirmed.

A `purchase` event is the easiest thing to forge (one request with a cookie and a large
`revenue`), so once a site's backend confirms orders (`POST /api/orders`) the browser's claims
can be checked. Three reasons, each weak on its own (a shop's integration can differ from its
snippet by tax or shipping, a backend can be late) and excluding together:

- `unconfirmed_purchase` (30): a purchase the backend never confirmed within the grace period
  (`orders_grace_minutes`), on a site that confirms orders.
- `revenue_mismatch` (20): a purchase whose revenue differs from its confirmation by more than
  `trust_revenue_tolerance` (1%, and at least a cent), or whose currency differs.
- `revenue_outlier` (30): a purchase worth more than the site's sanity ceiling — its manual
  `revenue_ceiling` when set (`tracker site set`), else
  `revenue_ceiling_factor` (20) times the site's median order (`reports.revenue.ceiling_sql`:
  confirmed orders, else the range's browser purchases; none below
  `revenue_ceiling_min_orders`). The same ceiling keeps such purchases out of the reports'
  unconfirmed revenue.

How the query works: the range's purchases, one per (visitor, order id), are LEFT ANY JOINed
to the latest confirmation of each order (`argMax` by version, as the reports read them) and
counted per visitor; `with_revenue_signals` joins these few columns to the visitor signals,
so the score's one array expression sees them like any other. Computed live (purchases are a
small share of events) rather than in the materialised day partials: a confirmation can
arrive or change at any time, and the partials of a closed day would not see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from string import Template
from typing import Any

from tracker.reports.revenue import LATEST, ceiling_sql
from tracker.storage.shards import local, shard_local

# Reason code -> (default weight, condition on the columns of REVENUE_SIGNALS).
REASONS: dict[str, tuple[int, str]] = {
    "unconfirmed_purchase": (30, "unconfirmed_purchases > 0"),
    "revenue_mismatch": (20, "mismatched_purchases > 0"),
    "revenue_outlier": (30, "outlier_purchases > 0"),
}
# The measured value of each signal (the trust drill-down shows near misses too).
SIGNAL_VALUES = {"unconfirmed_purchase": "unconfirmed_purchases", "revenue_mismatch": "mismatched_purchases",
                 "revenue_outlier": "max_purchase_revenue"}
COLUMNS = ("unconfirmed_purchases", "mismatched_purchases", "mismatch_order", "mismatch_browser", "mismatch_confirmed",
           "outlier_purchases", "max_purchase_revenue", "revenue_ceiling")

REVENUE_SIGNALS = Template("""
    WITH ($ceiling) AS ceiling,
         (SELECT count() > 0 FROM (SELECT 1 FROM orders WHERE site = {site:String} LIMIT 1)) AS confirms
    SELECT vid,
           toUInt32(countIf(confirms AND status = '' AND late)) AS unconfirmed_purchases,
           toUInt32(countIf(mismatch)) AS mismatched_purchases,
           argMaxIf(order_id, gap, mismatch) AS mismatch_order,
           argMaxIf(toFloat64(revenue), gap, mismatch) AS mismatch_browser,
           argMaxIf(toFloat64(c_revenue), gap, mismatch) AS mismatch_confirmed,
           toUInt32(countIf(ceiling > 0 AND toFloat64(revenue) > ceiling)) AS outlier_purchases,
           max(toFloat64(revenue)) AS max_purchase_revenue,
           any(ceiling) AS revenue_ceiling
    FROM (
        SELECT b.vid AS vid, b.order_id AS order_id, b.revenue AS revenue, b.late AS late, c.status AS status,
               abs(toFloat64(b.revenue) - toFloat64(c.revenue)) AS gap,
               c.status != '' AND (gap > greatest(0.01, toFloat64(c.revenue) * {tt_revenue_tolerance:Float64})
                                   OR (b.currency != '' AND b.currency != c.currency)) AS mismatch,
               c.revenue AS c_revenue
        FROM (
            SELECT vid, order_id, argMin(revenue, ts) AS revenue, argMin(currency, ts) AS currency,
                   min(ts) < now64(3) - toIntervalMillisecond({tt_orders_grace_ms:UInt64}) AS late
            FROM $events
            WHERE site = {site:String} AND type = 'purchase' AND order_id != ''
              AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
            GROUP BY vid, order_id
        ) AS b
        LEFT ANY JOIN ($latest) AS c ON b.order_id = c.order_id
    )
    GROUP BY vid
""").substitute(ceiling=ceiling_sql("{tt_revenue_ceiling_factor:Float64}"), latest=LATEST, events=local("purchases"))


def with_revenue_signals(visitor_signals: str) -> str:
    """`visitor_signals` (one row per visitor) with the revenue columns joined (0 for visitors
    without purchases)."""
    cols = ", ".join(f"r.{c} AS {c}" for c in COLUMNS)
    return f"""
    SELECT s.*, {cols}
    FROM ({visitor_signals}) AS s
    LEFT ANY JOIN ({shard_local(REVENUE_SIGNALS)}) AS r ON s.vid = r.vid
    SETTINGS join_use_nulls = 0"""


def params(settings: Any) -> dict[str, Any]:
    """Bound parameters of REVENUE_SIGNALS, from Settings (`score.trust_params` adds them)."""
    return {
        "tt_revenue_tolerance": float(settings.trust_revenue_tolerance),
        "tt_revenue_ceiling_factor": float(settings.revenue_ceiling_factor),
        "rev_min_orders": int(settings.revenue_ceiling_min_orders),
        "tt_orders_grace_ms": int(settings.orders_grace_minutes) * 60_000,
    }


def evidence(reason: str, row: Mapping[str, Any]) -> dict[str, Any] | None:
    """Evidence for one of REASONS (None for another module's reason)."""
    if reason == "unconfirmed_purchase":
        return {"purchases": row["unconfirmed_purchases"]}
    if reason == "revenue_mismatch":
        return {"purchases": row["mismatched_purchases"], "order_id": row["mismatch_order"],
                "browser_revenue": round(row["mismatch_browser"], 2), "confirmed_revenue": round(row["mismatch_confirmed"], 2)}
    if reason == "revenue_outlier":
        return {"purchases": row["outlier_purchases"], "max_revenue": round(row["max_purchase_revenue"], 2),
                "ceiling": round(row["revenue_ceiling"], 2)}
    return None
