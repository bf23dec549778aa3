"""`lift?promo=ID`: does showing the promotion make visitors buy more than holding it back?

How the query works. Over the deduplicated, range-limited (and, by default, trusted) events:
each visitor who saw the promo is put in a group by their FIRST `promo_view` of it — variant
`holdout` is the holdout group, `exposed` or no variant the exposed group; later views never
move a visitor. A visitor converts when they have a purchase at or after that first view, within
the report range. ClickHouse returns two rows (visitors and converters per group); the
comparison itself (rates, lift, interval, p-value, verdict) is the pure `stats.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.errors import BadRequest
from tracker.reports import _sql, revenue
from tracker.reports.params import param
from tracker.reports.runner import Context
from tracker.reports.stats import METHOD, compare
from tracker.storage.shards import shard_local

MAX_PROMO_LEN = 200  # the ingest limit for promo fields


def promo_id(raw: str | None) -> str:
    promo = (raw or "").strip()
    if not promo:
        raise BadRequest("promo is required: the id of the promotion to compare, e.g. promo=SUMMER")
    if len(promo) > MAX_PROMO_LEN or any(ord(ch) < 32 for ch in promo):
        raise BadRequest(f"promo must be a promotion id of at most {MAX_PROMO_LEN} printable characters")
    return promo


@dataclass(frozen=True)
class Params:
    promo: str = param("the promotion to compare, e.g. SUMMER (required)", parse=promo_id)


def groups_sql(trusted_only: bool, counting: revenue.Money, filters=()) -> str:
    # One read of the events: per visitor, the
    # first view of the promo and the last purchase; a converter bought at or after that view.
    per_visitor = f"""
        SELECT countIf(is_view) AS views,
               minIf(ts, is_view) AS first_view,
               argMinIf(promo_variant, (ts, event_id), is_view) AS first_variant,
               maxIf(ts, {revenue.COUNTED}) AS last_purchase
        FROM (
            SELECT vid, ts, event_id, type, order_id, promo_variant, type = 'promo_view' AND promo_id = {{promo:String}} AS is_view
            FROM ({revenue.events(_sql.events(trusted_only, filters), counting)})
            WHERE type IN ('promo_view', 'purchase')
        )
        GROUP BY {_sql.VISITOR}
        HAVING views > 0"""
    return f"""
    SELECT if(first_variant = 'holdout', 'holdout', 'exposed') AS grp,
           count() AS visitors,
           countIf(last_purchase >= first_view) AS converters
    FROM ({shard_local(per_visitor)}
    )
    GROUP BY grp
    """


def run(ctx: Context, params: Params) -> dict:
    counting = revenue.money_of(ctx.storage, ctx.bind())
    rows = ctx.storage.dicts(groups_sql(ctx.scope.trusted_only, counting, ctx.scope.filters), ctx.bind(promo=params.promo, **revenue.bind(counting)),
                             what="lift report")
    counts = {r["grp"]: (int(r["visitors"]), int(r["converters"])) for r in rows}
    # Converters bought confirmed orders once the site has them (tracker.reports.revenue).
    return {**shape(params.promo, counts.get("exposed", (0, 0)), counts.get("holdout", (0, 0))), "revenue_source": counting.source}


def shape(promo: str, exposed: tuple[int, int], holdout: tuple[int, int]) -> dict:
    """The response body from (visitors, converters) per group (pure)."""
    (n_a, x_a), (n_b, x_b) = exposed, holdout
    result = compare(x_a, n_a, x_b, n_b)
    return {
        "promo_id": promo,
        "method": METHOD,
        "exposed": {"visitors": n_a, "converters": x_a, "conversion_rate": result.rate_a},
        "holdout": {"visitors": n_b, "converters": x_b, "conversion_rate": result.rate_b},
        "absolute_lift": result.absolute_lift,
        "absolute_lift_pp": None if result.absolute_lift is None else result.absolute_lift * 100.0,
        "relative_lift": result.relative_lift,
        "ci_low": result.ci_low,
        "ci_high": result.ci_high,
        "confidence": 0.95,
        "z": result.z,
        "p_value": result.p_value,
        "significant": result.significant,
        "verdict": result.verdict,
    }
