"""`promotions`: what each promotion (optionally each creative or slot) is worth.

How the queries work. Every read goes through the shared `events(trusted_only)` fragment
(FINAL, so a duplicated event id counts once; report range; untrusted visitors out).
1. Exposure: one pass over `promo_view`/`promo_click` grouped by promo: impressions (views with
   variant `exposed` or none), viewers, clicks, holdout impressions.
2. Conversions and attribution: purchases are joined to the same visitor's promo clicks, keeping
   the clicks at most `lookback_days` before the purchase (click ts <= purchase ts). Grouping by
   (purchase, promo) gives one "touch" per promo the purchase can be credited to; window
   functions over each purchase rank the touches (first click, last click, time-decay weights),
   and the model's expression (`attribution.MODELS`) turns them into shares that add up to 1
   per purchase. Summing per promo gives `conversions`/`revenue` (every purchase touched by the
   promo, in full) and `attributed_*` (the model's shares).
3. Coupon redemptions: purchases whose coupon is linked to the promo in the `promos` registry.
The per-promo rows (a few hundred at most) are merged and finished in `finish_rows`, a pure
function; revenue is rounded to the cent so that attributed revenue adds up exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tracker.errors import BadRequest
from tracker.reports import _sql
from tracker.reports._params import Common, int_param, parse_common
from tracker.reports.attribution import DEFAULT_MODEL, MODELS, apportion_cents

BREAKDOWNS = {"creative": "promo_creative", "slot": "promo_slot"}
DEFAULT_LOOKBACK_DAYS = 7
MAX_LOOKBACK_DAYS = 90
DEFAULT_HALF_LIFE_DAYS = 7.0
MAX_HALF_LIFE_DAYS = 365.0


@dataclass(frozen=True)
class Params:
    common: Common
    model: str = DEFAULT_MODEL
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS
    by: str | None = None

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Params:
        common = parse_common(query)
        model = query.get("model") or DEFAULT_MODEL
        if model not in MODELS:
            raise BadRequest(f"model must be one of {', '.join(MODELS)}")
        lookback = int_param(query, "lookback_days", DEFAULT_LOOKBACK_DAYS, 1, MAX_LOOKBACK_DAYS)
        half_life = _half_life(query.get("half_life_days"))
        by = query.get("by") or None
        if by is not None and by not in BREAKDOWNS:
            raise BadRequest(f"by must be one of {', '.join(BREAKDOWNS)}")
        return cls(common, model, lookback, half_life, by)

    def bind(self) -> dict[str, Any]:
        return {**self.common.bind(), "lookback_days": self.lookback_days, "half_life_days": self.half_life_days}


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


def exposure_sql(trusted_only: bool, dim: str) -> str:
    return f"""
    SELECT promo_id, {dim} AS dim,
           countIf(type = 'promo_view' AND promo_variant IN ('exposed', '')) AS impressions,
           uniqExactIf(vid, type = 'promo_view' AND promo_variant IN ('exposed', '')) AS viewers,
           countIf(type = 'promo_click') AS clicks,
           countIf(type = 'promo_view' AND promo_variant = 'holdout') AS holdout_impressions,
           argMaxIf(promo_name, ts, promo_name != '') AS event_name
    FROM ({_sql.events(trusted_only)})
    WHERE type IN ('promo_view', 'promo_click') AND promo_id != ''
    GROUP BY promo_id, dim
    """


def touches_sql(trusted_only: bool, dim: str) -> str:
    """One row per (purchase, promo touched within the lookback), ranked within the purchase."""
    events = _sql.events(trusted_only)
    return f"""
    SELECT pid, revenue, promo_id, dim,
           count() OVER per_purchase AS n,
           row_number() OVER (PARTITION BY pid ORDER BY first_ts ASC, promo_id ASC, dim ASC) AS pos,
           row_number() OVER (PARTITION BY pid ORDER BY last_ts DESC, promo_id DESC, dim DESC) AS recency,
           decay,
           sum(decay) OVER per_purchase AS decay_total
    FROM (
        SELECT p.pid AS pid, any(p.revenue) AS revenue, c.promo_id AS promo_id, c.dim AS dim,
               min(c.ts) AS first_ts, max(c.ts) AS last_ts,
               sum(pow(2.0, -(toUnixTimestamp64Milli(p.ts) - toUnixTimestamp64Milli(c.ts))
                             / (86400000.0 * {{half_life_days:Float64}}))) AS decay
        FROM (SELECT event_id AS pid, vid, ts, revenue FROM ({events}) WHERE type = 'purchase') AS p
        INNER JOIN (SELECT vid, ts, promo_id, {dim} AS dim FROM ({events})
                    WHERE type = 'promo_click' AND promo_id != '') AS c ON c.vid = p.vid
        WHERE c.ts <= p.ts AND c.ts >= p.ts - toIntervalDay({{lookback_days:UInt32}})
        GROUP BY pid, promo_id, dim
    )
    WINDOW per_purchase AS (PARTITION BY pid)
    """


def conversions_sql(trusted_only: bool, dim: str, model: str) -> str:
    return f"""
    SELECT promo_id, dim,
           count() AS conversions,
           sum(revenue) AS touched_revenue,
           sum(share) AS attributed_conversions,
           sum(toFloat64(revenue) * share) AS attributed_revenue
    FROM (SELECT *, {MODELS[model]} AS share FROM ({touches_sql(trusted_only, dim)}))
    GROUP BY promo_id, dim
    """


def totals_sql(trusted_only: bool, dim: str) -> str:
    """Purchases in range, and those with at least one promo click in their lookback."""
    return f"""
    SELECT
        (SELECT count() FROM ({_sql.events(trusted_only)}) WHERE type = 'purchase') AS purchases,
        (SELECT sum(revenue) FROM ({_sql.events(trusted_only)}) WHERE type = 'purchase') AS purchase_revenue,
        uniqExact(pid) AS attributed_purchases,
        sum(purchase_value) AS attributed_purchase_revenue
    FROM (SELECT pid, any(revenue) AS purchase_value FROM ({touches_sql(trusted_only, dim)}) GROUP BY pid)
    """


def coupons_sql(trusted_only: bool) -> str:
    return f"""
    SELECT r.promo_id AS promo_id, count() AS coupon_redemptions, sum(p.revenue) AS coupon_revenue
    FROM (SELECT upper(coupon) AS coupon, revenue FROM ({_sql.events(trusted_only)})
          WHERE type = 'purchase' AND coupon != '') AS p
    INNER JOIN (SELECT promo_id, upper(arrayJoin(coupons)) AS coupon FROM promos FINAL
                WHERE site = {{site:String}} AND deleted = 0) AS r ON r.coupon = p.coupon
    GROUP BY promo_id
    """


REGISTRY_SQL = """
    SELECT promo_id, name FROM promos FINAL WHERE site = {site:String} AND deleted = 0
"""


def run(storage, params: Params) -> dict:
    trusted = params.common.trusted_only
    dim = BREAKDOWNS[params.by] if params.by else "''"
    bind = params.bind()
    exposure = storage.dicts(exposure_sql(trusted, dim), bind, what="promotions report")
    conversions = storage.dicts(conversions_sql(trusted, dim, params.model), bind, what="promotions report")
    totals = storage.dicts(totals_sql(trusted, dim), bind, what="promotions report")[0]
    coupons = storage.dicts(coupons_sql(trusted), bind, what="promotions report")
    names = {r["promo_id"]: r["name"] for r in storage.dicts(REGISTRY_SQL, bind, what="promotions report")}
    attributed_total = Decimal(str(totals["attributed_purchase_revenue"] or 0))
    rows = finish_rows(exposure, conversions, coupons, names, attributed_total, by=params.by)
    return {
        "site": params.common.site,
        "from": params.common.start.isoformat(),
        "to": params.common.end.isoformat(),
        "traffic": params.common.traffic,
        "model": params.model,
        "lookback_days": params.lookback_days,
        "half_life_days": params.half_life_days,
        "by": params.by,
        "rows": rows,
        "totals": {
            "purchases": int(totals["purchases"]),
            "revenue": _money(totals["purchase_revenue"]),
            "attributed_purchases": int(totals["attributed_purchases"]),
            "attributed_revenue": _money(totals["attributed_purchase_revenue"]),
        },
    }


def _money(value: Any) -> float:
    return float(Decimal(str(value or 0)).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"))


def _round2(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    return num * scale / den if den else None


def finish_rows(
    exposure: list[dict],
    conversions: list[dict],
    coupons: list[dict],
    names: Mapping[str, str],
    attributed_total: Decimal,
    *,
    by: str | None = None,
) -> list[dict]:
    """Merge the per-promo query rows into the report's rows (pure; a few hundred rows at most).

    Attributed revenue is rounded with largest remainders so that the promos' figures add up
    to the attributed purchases' revenue to the cent. With a breakdown the coupon figures stay
    per promo, so they are left out (None) of the creative/slot rows.
    """
    keyed: dict[tuple[str, str], dict] = {}

    def row(promo_id: str, dim: str) -> dict:
        key = (promo_id, dim)
        if key not in keyed:
            keyed[key] = {"promo_id": promo_id, **({by: dim} if by else {}), "impressions": 0, "viewers": 0, "clicks": 0,
                          "holdout_impressions": 0, "conversions": 0, "revenue": 0.0, "attributed_conversions": 0.0,
                          "_attributed_revenue": 0.0, "_name": ""}
        return keyed[key]

    for r in exposure:
        out = row(r["promo_id"], r["dim"])
        for field in ("impressions", "viewers", "clicks", "holdout_impressions"):
            out[field] = int(r[field])
        out["_name"] = r["event_name"] or ""
    for r in conversions:
        out = row(r["promo_id"], r["dim"])
        out["conversions"] = int(r["conversions"])
        out["revenue"] = _money(r["touched_revenue"])
        out["attributed_conversions"] = float(r["attributed_conversions"])
        out["_attributed_revenue"] = float(r["attributed_revenue"])
    redemptions = {r["promo_id"]: (int(r["coupon_redemptions"]), _money(r["coupon_revenue"])) for r in coupons}
    if not by:
        for promo_id in redemptions:
            row(promo_id, "")

    ordered = list(keyed.values())
    exact = [r["_attributed_revenue"] for r in ordered]
    for r, cents in zip(ordered, apportion_cents(exact, attributed_total)):
        r["attributed_revenue"] = cents
    for r in ordered:
        r.pop("_attributed_revenue")
        name = r.pop("_name")
        r["promo_name"] = names.get(r["promo_id"]) or name
        r["ctr"] = _ratio(r["clicks"], r["impressions"])
        r["conversion_rate"] = _ratio(r["conversions"], r["clicks"])
        r["aov"] = _round2(_ratio(r["revenue"], r["conversions"]))
        r["revenue_per_1000_impressions"] = _round2(_ratio(r["revenue"], r["impressions"], 1000.0))
        count, revenue = redemptions.get(r["promo_id"], (0, 0.0))
        r["coupon_redemptions"] = None if by else count
        r["coupon_revenue"] = None if by else revenue
    ordered.sort(key=lambda r: (-r["attributed_revenue"], -r["clicks"], -r["impressions"], r["promo_id"], r.get(by or "", "")))
    return ordered
