"""Leaked coupons, not popular ones: `coupon_shared` with evidence about the visitor (issue #14).

Why. The old rule excluded every redeemer of any unregistered code that many visitors or
prefixes used. A shop prints codes it never registers (newsletters, flyers); in an unseen
two-week history that excluded 7 % of ordinary shoppers for one newsletter code, while a code
leaked to a deal forum got the same single reason. Popularity is not a leak. A leak shows in
concentration and behaviour:
- **crowd**: many redeemers of the code from the visitor's IP prefix (one /24 or /48),
- **burst**: many redeemers of the code within minutes of the visitor's purchase,
- **fresh checkout**: the visitor was first seen minutes before buying and barely browsed
  (at most `trust_leak_browse_pageviews` pageviews before its first purchase),
- **promotion unseen**: the code belongs to promotions in the registry and the visitor never
  viewed or clicked any of them.

A visitor gets `coupon_shared` only if the code is unusual at all (at least
`trust_coupon_visitors` redeemers or `trust_coupon_prefixes` prefixes in the range, and not
in `trust_public_coupons`), the visitor did not browse (fresh checkout: evidence about the
visitor itself) and one more piece of evidence holds (crowd, burst or promotion unseen).
So a code redeemed by many visitors across many networks who browse like shoppers excludes
nobody, registered or not. Crowd and burst alone are not enough: an office /24 buying with a
newsletter code in the hour after the mailing has both (the evaluation's `office` confounder
was excluded that way until the rule asked for the visitor's own behaviour).

How. All of it runs on the per-visitor rows of the range (`signals._VISITORS`, one row per
visitor), with window functions over the visitors partitioned by their judged coupon: no
second pass over the partials (the old rule had one, a scalar subquery of shared coupons).
Each visitor is judged on one coupon: its alphabetically first code that is not public (a
visitor redeeming two codes is rare; documented in docs/trust.md). Prefix and time are the
visitor's first event's prefix and its first purchase.
"""

from __future__ import annotations

from string import Template

# Coupon -> the promotions carrying it, from the registry (one scalar, a few hundred entries).
_REGISTRY = """
    SELECT groupArray((c, promo_id))
    FROM (SELECT DISTINCT c, promo_id FROM promos FINAL ARRAY JOIN coupons AS c WHERE site = {site:String} AND deleted = 0)
"""

# Per visitor: the coupon judged, the code's population counts and the four pieces of evidence.
_LEAKS = """
    WITH ($registry) AS lk_registry
    SELECT *,
           lk_coupon != '' AND NOT has({tt_public_coupons:Array(String)}, lk_coupon)
               AND (coupon_visitors >= {tt_coupon_visitors:UInt32} OR coupon_prefixes >= {tt_coupon_prefixes:UInt32}) AS lk_unusual,
           lk_coupon != '' AND coupon_prefix_redeemers >= {tt_leak_prefix_redeemers:UInt32} AS lk_crowd,
           lk_coupon != '' AND coupon_burst >= {tt_leak_burst_redeemers:UInt32} AS lk_burst,
           lk_coupon != '' AND first_buy_ms > 0 AND first_buy_ms - first_ms <= {tt_leak_fresh_ms:UInt64}
               AND pageviews_before_buy <= {tt_leak_browse_pageviews:UInt32} AS lk_fresh,
           lk_registered AND NOT hasAny(promos_seen, lk_promos) AS lk_unseen,
           lk_unusual AND lk_fresh AND (lk_crowd OR lk_burst OR lk_unseen) AS lk_leak,
           if(lk_leak, lk_coupon, '') AS shared_coupon,
           if(lk_coupon = '', 0, coupon_visitors) AS shared_coupon_visitors,
           if(lk_coupon = '', 0, coupon_prefixes) AS shared_coupon_prefixes
    FROM (
        SELECT *,
               arrayMap(x -> x.2, arrayFilter(x -> x.1 = lk_coupon, lk_registry)) AS lk_promos,
               notEmpty(lk_promos) AS lk_registered,
               count() OVER (PARTITION BY lk_coupon) AS coupon_visitors,
               uniqExact(first_prefix) OVER (PARTITION BY lk_coupon) AS coupon_prefixes,
               count() OVER (PARTITION BY lk_coupon, first_prefix) AS coupon_prefix_redeemers,
               count() OVER (PARTITION BY lk_coupon ORDER BY first_buy_ms
                             RANGE BETWEEN {tt_leak_burst_ms:UInt64} PRECEDING AND {tt_leak_burst_ms:UInt64} FOLLOWING) AS coupon_burst
        FROM (
            SELECT *,
                   arrayFirst(c -> NOT has({tt_public_coupons:Array(String)}, c), arraySort(coupons)) AS lk_coupon
            FROM ($visitors)
        )
    )
"""

# The evidence columns a visitor row carries (for `evidence` and the coupons listing).
EVIDENCE = ("coupon_prefix_redeemers", "coupon_burst", "lk_fresh", "lk_unseen", "lk_crowd", "lk_burst", "lk_registered")


def with_leaks(visitors_sql: str) -> str:
    """`visitors_sql` (one row per visitor, with coupons, first_prefix, first_ms, first_buy_ms,
    pageviews_before_buy, promos_seen) plus the judged coupon, its counts, the evidence and
    `shared_coupon` (the code when `coupon_shared` fires, else '')."""
    return Template(_LEAKS).substitute(registry=_REGISTRY, visitors=visitors_sql)


def leak_evidence(row) -> dict:
    """coupon_shared's evidence beyond the code's counts: which pieces held for this visitor."""
    return {
        "redeemers_in_prefix": row["coupon_prefix_redeemers"],
        "redeemers_in_burst": row["coupon_burst"],
        "fresh_checkout": bool(row["lk_fresh"]),
        "promotion_unseen": bool(row["lk_unseen"]),
        "registered": bool(row["lk_registered"]),
    }
