"""`promotions`: what each promotion (optionally each creative or slot) is worth.

How the query works — one query; the promo views, clicks and purchases are read once through
the shared `events(trusted_only)` fragment (FINAL, so a duplicated event id counts once; report
range; untrusted visitors out) into a materialised CTE that two halves share:
1. Exposure: grouped by promo: impressions (views with variant `exposed` or none), viewers,
   clicks, holdout views, the latest name the events carried.
2. Attribution: clicks and purchases grouped by visitor (buyers only): the clicks sorted by
   time, the purchases. Each purchase becomes a row (ARRAY JOIN); its clicks at most
   `lookback_days` before it (click ts <= purchase ts) give the distinct promos in first-click
   order, and the model (`attribution.MODELS`) gives each its share (shares add up to 1 per
   purchase). Every purchase emits uniform records — one per promo touched (conversion,
   revenue, share), one with the purchase totals under promo id '', one per promo whose
   registry coupons include the purchase's coupon — that one GROUP BY sums per promo.
The halves are joined on (promo, dim). The few resulting rows are finished in `shape`,
a pure function: ratios, names, and revenue to the cent with attributed revenue adding up
exactly.

On a cluster (`sharded`) a CTE cannot reach the shards, so each half reads the events itself,
on each shard over its own visitors (`shard_local`): exposure counts per shard (a visitor's
views are on one shard, so per-shard distinct viewers add up) merged on the initiator, and
the attribution's per-buyer rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from tracker.errors import BadRequest
from tracker.reports import _sql, revenue
from tracker.reports.attribution import DEFAULT_MODEL, MODELS, apportion_cents
from tracker.reports.figures import cents, money, ratio
from tracker.reports.params import param
from tracker.reports.runner import Context
from tracker.storage.shards import shard_local

BREAKDOWNS = {"creative": "promo_creative", "slot": "promo_slot"}
DEFAULT_LOOKBACK_DAYS = 7
MAX_LOOKBACK_DAYS = 90
DEFAULT_HALF_LIFE_DAYS = 7.0
MAX_HALF_LIFE_DAYS = 365.0


def _half_life(raw: str | None) -> float:
    if raw in (None, ""):
        return DEFAULT_HALF_LIFE_DAYS
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest("half_life_days must be a number of days") from None
    if not 0 < value <= MAX_HALF_LIFE_DAYS:  # also rejects nan and inf
        raise BadRequest(f"half_life_days must be more than 0 and at most {MAX_HALF_LIFE_DAYS:g}")
    return value


@dataclass(frozen=True)
class Params:
    model: str = param("how a purchase's credit is split among the promotions clicked before it", DEFAULT_MODEL, choices=MODELS)
    lookback_days: int = param("days before a purchase in which promotion clicks count", DEFAULT_LOOKBACK_DAYS, lo=1, hi=MAX_LOOKBACK_DAYS)
    half_life_days: float = param(f"time_decay's half-life in days (more than 0, at most {MAX_HALF_LIFE_DAYS:g})",
                                  DEFAULT_HALF_LIFE_DAYS, parse=_half_life)
    by: str | None = param("one row per promotion and creative or slot", None, choices=BREAKDOWNS)


EXPOSURE_FIELDS = ("impressions", "viewers", "clicks", "holdout_impressions", "event_name")

# One record per contribution of a purchase, summed per (promo, dim): name, type, default.
RECORD = (
    ("promo_id", "toString", "''"),
    ("dim", "toString", "''"),
    ("conversions", "toUInt64", "0"),
    ("touched_revenue", "toDecimal64", "0"),
    ("attributed_conversions", "toFloat64", "0"),
    ("attributed_revenue", "toFloat64", "0"),
    ("coupon_redemptions", "toUInt64", "0"),
    ("coupon_revenue", "toDecimal64", "0"),
    ("purchases", "toUInt64", "0"),
    ("attributed_purchases", "toUInt64", "0"),
    ("purchase_revenue", "toDecimal64", "0"),
)


def record(**values: str) -> str:
    """A record tuple with every field cast to its one type (arrays of records must agree)."""
    unknown = set(values) - {name for name, _, _ in RECORD}
    assert not unknown, unknown
    parts = []
    for name, cast, default in RECORD:
        expr = values.get(name, default)
        parts.append(f"{cast}({expr}, 4)" if cast == "toDecimal64" else f"{cast}({expr})")
    return "tuple(" + ", ".join(parts) + ")"


def exposure_sql(events: str, dim: str, sharded: bool = False) -> str:
    """Per promo: impressions, viewers, clicks, holdout views, the latest name events carried
    (`sharded`: and when it was carried, `name_ts`, for `merged_exposure_sql`)."""
    named = ",\n               maxIf(ts, promo_name != '') AS name_ts" if sharded else ""
    return f"""
        SELECT promo_id, {dim} AS dim,
               countIf(type = 'promo_view' AND promo_variant IN ('exposed', '')) AS impressions,
               uniqExactIf({_sql.VISITOR}, type = 'promo_view' AND promo_variant IN ('exposed', '')) AS viewers,
               countIf(type = 'promo_click') AS clicks,
               countIf(type = 'promo_view' AND promo_variant = 'holdout') AS holdout_impressions,
               argMaxIf(promo_name, ts, promo_name != '') AS event_name{named}
        FROM ({events})
        WHERE type IN ('promo_view', 'promo_click')
        GROUP BY promo_id, dim"""


def merged_exposure_sql(per_shard: str) -> str:
    """`exposure_sql` rows of several shards (with `name_ts`) summed per (promo, dim)."""
    return f"""
        SELECT promo_id, dim, sum(impressions) AS impressions, sum(viewers) AS viewers, sum(clicks) AS clicks,
               sum(holdout_impressions) AS holdout_impressions, argMax(event_name, name_ts) AS event_name
        FROM ({per_shard})
        GROUP BY promo_id, dim"""


def attribution_sql(events: str, dim: str, model: str, with_coupons: bool) -> str:
    """Per promo: the purchases its clicks touched and the model's shares of them; under promo
    id '' the purchase totals. Only buyers' clicks and purchases are grouped per visitor."""
    buy_type = "Tuple(String, Int64, Decimal(18, 4), String)"
    touch = record(promo_id="kv.1.1", dim="kv.1.2", conversions="1", touched_revenue="buy.3",
                   attributed_conversions="kv.2", attributed_revenue="toFloat64(buy.3) * kv.2")
    totals = record(purchases="1", purchase_revenue="buy.3", attributed_purchases="n > 0",
                    touched_revenue="if(n > 0, buy.3, 0)")
    coupon = record(promo_id="pid", coupon_redemptions="1", coupon_revenue="buy.3")
    coupons = (f"arrayMap(pid -> {coupon}, arrayMap(x -> x.1, arrayFilter(x -> buy.4 != '' AND has(x.2, buy.4), registry)))"
               if with_coupons else "[]")
    per_buyer = shard_local(f"""
                    SELECT arraySort(groupArrayIf((t, promo_id, dim), type = 'promo_click')) AS click_list,
                           groupArrayIf(CAST((event_id, t, revenue, upper(coupon)), '{buy_type}'), {revenue.COUNTED}) AS buy_list
                    FROM (
                        SELECT vid, type, order_id, toInt64(toUnixTimestamp64Milli(ts)) AS t, event_id, promo_id, {dim} AS dim, revenue, coupon
                        FROM ({events})
                        WHERE type IN ('promo_click', 'purchase')
                    )
                    GROUP BY {_sql.VISITOR}
                    HAVING notEmpty(buy_list)""")
    return f"""
        SELECT r.1 AS promo_id, r.2 AS dim,
               sum(r.3) AS conversions, sum(r.4) AS touched_revenue,
               sum(r.5) AS attributed_conversions, sum(r.6) AS attributed_revenue,
               sum(r.7) AS coupon_redemptions, sum(r.8) AS coupon_revenue,
               sum(r.9) AS purchases, sum(r.10) AS attributed_purchases, sum(r.11) AS purchase_revenue
        FROM (
            SELECT arrayConcat(arrayMap(kv -> {touch}, arrayZip(keys, shares)), [{totals}], {coupons}) AS records
            FROM (
                SELECT buy,
                       (SELECT groupArray((promo_id, arrayMap(c -> upper(c), coupons))) FROM promos FINAL
                        WHERE site = {{site:String}} AND deleted = 0) AS registry,
                       arrayFilter(c -> c.1 <= buy.2 AND c.1 >= buy.2 - toInt64({{lookback_days:UInt32}}) * 86400000, click_list) AS w,
                       arrayMap(c -> (c.2, c.3), w) AS w_keys,
                       arrayFilter((k, i) -> indexOf(w_keys, k) = i, w_keys, arrayEnumerate(w_keys)) AS keys,
                       length(keys) AS n,
                       if(n > 0, w_keys[-1], ('', '')) AS last_key,
                       arrayMap(k -> arraySum(arrayMap(
                           (c, ck) -> if(ck = k, pow(2.0, (c.1 - buy.2) / (86400000.0 * {{half_life_days:Float64}})), 0.0),
                           w, w_keys)), keys) AS decays,
                       arraySum(decays) AS decay_total,
                       arrayMap((k, pos, d) -> {MODELS[model]}, keys, arrayEnumerate(keys), decays) AS shares
                FROM ({per_buyer})
                ARRAY JOIN buy_list AS buy
            )
        )
        ARRAY JOIN records AS r
        GROUP BY promo_id, dim"""


def promotions_sql(trusted_only: bool, dim: str, model: str, with_coupons: bool, counting: revenue.Money, filters=(),
                   sharded: bool = False) -> str:
    # The range's promo views and clicks and its purchases (money rules applied), each read from
    # the table that keeps only them (`_sql.promo_rows`, `_sql.purchase_rows`): at 10M events
    # ~1.7M rows instead of a FINAL scan of every event's type.
    base = _sql.events(trusted_only, filters)
    columns = "vid, type, ts, event_id, order_id, promo_id, promo_creative, promo_slot, promo_variant, promo_name, revenue, coupon"
    promo_events = f"""
        SELECT {columns} FROM ({_sql.promo_rows(base)})
        UNION ALL
        SELECT {columns} FROM ({revenue.events(_sql.purchase_rows(base), counting)}) WHERE type = 'purchase'"""
    if sharded:
        return f"""
    SELECT promo_id, dim, {", ".join(EXPOSURE_FIELDS)}, {", ".join(name for name, _, _ in RECORD[2:])}
    FROM ({merged_exposure_sql(shard_local(exposure_sql(promo_events, dim, sharded=True)))}) AS x
    FULL OUTER JOIN ({attribution_sql(promo_events, dim, model, with_coupons)}) AS a USING (promo_id, dim)
    SETTINGS join_use_nulls = 0
    """
    # One node: the promo events are read once into a materialised CTE that both halves share
    # (measured ~5-10% faster than inlining the CTE in both halves, with identical rows).
    return f"""
    WITH promo_stream AS MATERIALIZED ({promo_events}
    )
    SELECT promo_id, dim, {", ".join(EXPOSURE_FIELDS)}, {", ".join(name for name, _, _ in RECORD[2:])}
    FROM ({exposure_sql("SELECT * FROM promo_stream", dim)}) AS x
    FULL OUTER JOIN ({attribution_sql("SELECT * FROM promo_stream", dim, model, with_coupons)}) AS a USING (promo_id, dim)
    SETTINGS join_use_nulls = 0, enable_materialized_cte = 1
    """


REGISTRY_SQL = """
    SELECT promo_id, name FROM promos FINAL WHERE site = {site:String} AND deleted = 0
"""


def run(ctx: Context, params: Params) -> dict:
    dim = BREAKDOWNS[params.by] if params.by else "''"
    counting = revenue.money_of(ctx.storage, ctx.bind())
    sql = promotions_sql(ctx.scope.trusted_only, dim, params.model, with_coupons=params.by is None, counting=counting, filters=ctx.scope.filters,
                         sharded=bool(ctx.storage.cluster))
    bind = ctx.bind(lookback_days=params.lookback_days, half_life_days=params.half_life_days, **revenue.bind(counting))
    grouped = ctx.storage.dicts(sql, bind, what="promotions report")
    names = {r["promo_id"]: r["name"] for r in ctx.storage.dicts(REGISTRY_SQL, bind, what="promotions report")}
    totals = next((r for r in grouped if r["promo_id"] == ""), None) or {}
    rows = shape([r for r in grouped if r["promo_id"] != ""], names, Decimal(str(totals.get("touched_revenue") or 0)), by=params.by)
    # Confirmed orders without a browser purchase: revenue of the range that no click earned.
    unattributed = [o for o in revenue.orphans(ctx.storage, bind, counting) if o["currency"] == counting.currency]
    return {
        "revenue_source": counting.source,
        "currency": counting.currency,
        "model": params.model,
        "lookback_days": params.lookback_days,
        "half_life_days": params.half_life_days,
        "by": params.by,
        "rows": rows,
        "totals": {
            "purchases": int(totals.get("purchases") or 0) + sum(int(o["orders"]) for o in unattributed),
            "revenue": money(Decimal(str(totals.get("purchase_revenue") or 0)) + sum((o["revenue"] for o in unattributed), Decimal(0))),
            "attributed_purchases": int(totals.get("attributed_purchases") or 0),
            "attributed_revenue": money(totals.get("touched_revenue")),
        },
    }


def shape(grouped: list[dict], names: Mapping[str, str], attributed_total: Decimal, *, by: str | None = None) -> list[dict]:
    """The report's rows from the per-promo sums (pure; a few hundred rows at most).

    Attributed revenue is rounded with largest remainders so that the promos' figures add up
    to the attributed purchases' revenue to the cent. With a breakdown, coupon figures (which
    belong to the promo, not to a creative or slot) are None.
    """
    exact = [float(r["attributed_revenue"]) for r in grouped]
    rounded = apportion_cents(exact, attributed_total)
    rows = []
    for r, attributed_revenue in zip(grouped, rounded):
        revenue = money(r["touched_revenue"])
        impressions, clicks, conversions = int(r["impressions"]), int(r["clicks"]), int(r["conversions"])
        rows.append({
            "promo_id": r["promo_id"],
            **({by: r["dim"]} if by else {}),
            "promo_name": names.get(r["promo_id"]) or r["event_name"] or "",
            "impressions": impressions,
            "viewers": int(r["viewers"]),
            "clicks": clicks,
            "ctr": ratio(clicks, impressions),
            "conversions": conversions,
            "revenue": revenue,
            "attributed_conversions": float(r["attributed_conversions"]),
            "attributed_revenue": attributed_revenue,
            # Purchases per click (conversions / clicks).
            "conversion_rate": ratio(conversions, clicks),
            "aov": cents(ratio(revenue, conversions)),
            "revenue_per_1000_impressions": cents(ratio(revenue * 1000.0, impressions)),
            "coupon_redemptions": None if by else int(r["coupon_redemptions"]),
            "coupon_revenue": None if by else money(r["coupon_revenue"]),
            "holdout_impressions": int(r["holdout_impressions"]),
        })
    rows.sort(key=lambda r: (-r["attributed_revenue"], -r["clicks"], -r["impressions"], r["promo_id"], r.get(by or "", "")))
    return rows
