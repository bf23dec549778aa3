"""`/api/trust/coupons`: coupons redeemed by unusually many visitors or IP prefixes (leaked codes).

How the query works: the same range partials as the scores (`signals.RANGE_PARTIALS`, so a
coupon listed here is exactly one whose redeemers get `coupon_shared`): each visitor-day row
carries the coupons redeemed and the IP prefixes used that day; ARRAY JOIN gives distinct
visitors and prefixes per coupon. Redemptions and revenue come from the purchases themselves.
Public codes (`trust_public_coupons`, or linked to a promotion in the registry) are never unusual. `all=true` lists every coupon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tracker.reports.params import param
from tracker.reports.runner import Context
from tracker.reports.trust.signals import PUBLIC_COUPONS, RANGE_PARTIALS


@dataclass(frozen=True)
class Params:
    all: bool = param("every coupon, not only the unusual ones", False)
    limit: int = param("most rows to return", 100, lo=1, hi=10_000)


SQL = f"""
    SELECT u.coupon AS coupon, u.visitors AS visitors, u.ip_prefixes AS ip_prefixes,
           u.coupon IN ({PUBLIC_COUPONS}) AS public,
           NOT public AND (u.visitors >= {{tt_coupon_visitors:UInt32}} OR u.ip_prefixes >= {{tt_coupon_prefixes:UInt32}}) AS unusual,
           r.redemptions AS redemptions, r.revenue AS revenue
    FROM (
        SELECT coupon, uniqExact(vid) AS visitors, uniqExactArray(prefixes) AS ip_prefixes
        FROM ({RANGE_PARTIALS})
        ARRAY JOIN coupons AS coupon
        GROUP BY coupon
    ) AS u
    LEFT JOIN (
        SELECT coupon, count() AS redemptions, toFloat64(sum(revenue)) AS revenue
        FROM events FINAL
        WHERE site = {{site:String}} AND type = 'purchase' AND coupon != ''
          AND ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}}
        GROUP BY coupon
    ) AS r ON u.coupon = r.coupon
    WHERE {{all:Bool}} OR unusual
    ORDER BY unusual DESC, visitors DESC, ip_prefixes DESC, coupon
    LIMIT {{limit:UInt32}}
"""


def run(ctx: Context, params: Params) -> dict:
    rows = ctx.storage.dicts(SQL, ctx.bind_coverage(all=params.all, limit=params.limit), what="trust coupons")
    return {"rows": [shape(r) for r in rows]}


def shape(row: Mapping) -> dict:
    """A coupon row with plain booleans and revenue to the fourth decimal, as stored (pure)."""
    return {**row, "public": bool(row["public"]), "unusual": bool(row["unusual"]), "revenue": round(row["revenue"], 4)}
