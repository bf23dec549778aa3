"""`/api/trust/coupons`: which codes leaked and which are merely popular, with the evidence.

How the query works: the per-visitor rows of the scores (`signals.VISITOR_SIGNALS`, so a code
is `leaked` exactly when some of its redeemers get `coupon_shared`), ARRAY JOIN their coupons:
distinct visitors and prefixes per code, and — over the redeemers judged on that code — how
many carry each piece of leak evidence (`leaks`: crowd in one prefix, burst in time, fresh
checkout, promotion unseen). Redemptions and revenue come from the purchases themselves.

`verdict`: `leaked` (some redeemer has the evidence: excluded), `popular` (unusually many
visitors or prefixes, or listed in `trust_public_coupons`, without that evidence: nobody
excluded), `ordinary`. `public` is true for codes in `trust_public_coupons` or linked to a
promotion in the registry (shared by design); `unusual` (many visitors or prefixes, not in
`trust_public_coupons`) as before. `all=true` lists every coupon, else leaked and unusual ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tracker.reports.params import param
from tracker.reports.runner import Context
from tracker.reports.trust.signals import VISITOR_SIGNALS


@dataclass(frozen=True)
class Params:
    all: bool = param("every coupon, not only the leaked and unusual ones", False)
    limit: int = param("most rows to return", 100, lo=1, hi=10_000)


SQL = f"""
    SELECT u.coupon AS coupon, u.visitors AS visitors, u.ip_prefixes AS ip_prefixes,
           has({{tt_public_coupons:Array(String)}}, u.coupon) OR u.registered AS public,
           NOT has({{tt_public_coupons:Array(String)}}, u.coupon)
               AND (u.visitors >= {{tt_coupon_visitors:UInt32}} OR u.ip_prefixes >= {{tt_coupon_prefixes:UInt32}}) AS unusual,
           u.leak_redeemers > 0 AS leaked,
           multiIf(leaked, 'leaked', unusual OR has({{tt_public_coupons:Array(String)}}, u.coupon), 'popular', 'ordinary') AS verdict,
           u.leak_redeemers AS leak_redeemers, u.fresh_redeemers AS fresh_redeemers, u.crowded_redeemers AS crowded_redeemers,
           u.burst_redeemers AS burst_redeemers, u.unseen_redeemers AS unseen_redeemers,
           u.top_prefix AS top_prefix, u.top_prefix_redeemers AS top_prefix_redeemers, u.max_burst AS max_burst,
           r.redemptions AS redemptions, r.revenue AS revenue
    FROM (
        SELECT coupon, uniqExact(vid) AS visitors, uniqExactArray(prefixes) AS ip_prefixes,
               countIf(judged AND lk_leak) AS leak_redeemers,
               countIf(judged AND lk_fresh) AS fresh_redeemers,
               countIf(judged AND lk_crowd) AS crowded_redeemers,
               countIf(judged AND lk_burst) AS burst_redeemers,
               countIf(judged AND lk_unseen) AS unseen_redeemers,
               argMaxIf(first_prefix, coupon_prefix_redeemers, judged) AS top_prefix,
               maxIf(coupon_prefix_redeemers, judged) AS top_prefix_redeemers,
               maxIf(coupon_burst, judged) AS max_burst,
               max(judged AND lk_registered) AS registered
        FROM (SELECT *, coupon, coupon = lk_coupon AS judged FROM ({VISITOR_SIGNALS}) ARRAY JOIN coupons AS coupon)
        GROUP BY coupon
    ) AS u
    LEFT JOIN (
        SELECT coupon, count() AS redemptions, toFloat64(sum(revenue)) AS revenue
        FROM purchases FINAL
        WHERE site = {{site:String}} AND type = 'purchase' AND coupon != ''
          AND ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}}
        GROUP BY coupon
    ) AS r ON u.coupon = r.coupon
    WHERE {{all:Bool}} OR leaked OR unusual
    ORDER BY leaked DESC, unusual DESC, visitors DESC, ip_prefixes DESC, coupon
    LIMIT {{limit:UInt32}}
"""

_EVIDENCE = {  # response key -> column
    "leak_redeemers": "leak_redeemers",  # redeemers excluded for this code (coupon_shared)
    "fresh_checkouts": "fresh_redeemers",  # first seen minutes before buying, barely browsed
    "crowded_redeemers": "crowded_redeemers",  # at least trust_leak_prefix_redeemers redeemers in their prefix
    "burst_redeemers": "burst_redeemers",  # at least trust_leak_burst_redeemers redeemers around their purchase
    "redeemers_without_promotion": "unseen_redeemers",  # registered code, its promotion never seen
    "top_prefix": "top_prefix",
    "top_prefix_redeemers": "top_prefix_redeemers",
    "max_redeemers_in_burst": "max_burst",
}


def run(ctx: Context, params: Params) -> dict:
    rows = ctx.storage.dicts(SQL, ctx.bind_coverage(all=params.all, limit=params.limit), what="trust coupons")
    return {"rows": [shape(r) for r in rows]}


def shape(row: Mapping) -> dict:
    """A coupon row: plain booleans, the verdict with its evidence, revenue to the fourth decimal (pure)."""
    out = {k: row[k] for k in ("coupon", "visitors", "ip_prefixes", "redemptions")}
    out.update(public=bool(row["public"]), unusual=bool(row["unusual"]), leaked=bool(row["leaked"]), verdict=row["verdict"],
               evidence={key: row[col] for key, col in _EVIDENCE.items()}, revenue=round(row["revenue"], 4))
    return out
