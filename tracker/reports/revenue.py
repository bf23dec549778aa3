"""Money, counted one way for every report: confirmed orders once a site has them.

Until a site's backend has confirmed an order (`POST /api/orders`, CONTRACT §9), revenue is
what the visitors' browsers said in their `purchase` events. From the first confirmation on,
every report that counts orders, revenue, conversions, AOV or attribution reads the events
through `events(base, money)`, which changes only the purchase rows:

- A browser purchase whose order id has a confirmation with status `paid` keeps its visitor,
  time and session (so its promo clicks and campaign still earn it) and takes the confirmed
  revenue, currency and coupon. If the browser sent several purchases for one order id (a
  reloaded thank-you page with a new event id), only the first counts.
- A browser purchase with no confirmation, or a refunded one, counts in no money figure (its
  row stays with an empty order id, so visitors, sessions and pageviews are the same whichever
  way money is counted; reports count purchases under `COUNTED`);
  `reconciliation_sql` counts it apart (`unconfirmed_*` once the grace period has passed,
  `pending_*` within it, `refunded_*`). A refund therefore subtracts the order from every
  figure it was in, in the range its purchase happened.
- A paid confirmation with no browser purchase near the range (a phone order, a blocked
  snippet) is real revenue without a visitor: `orphans_sql` gives it per day (of its `ts`),
  and reports that show totals add it (it has no session, so it earns no promotion or
  campaign, and no `filter=` can match it).

A sanity ceiling per site: a purchase the backend has not confirmed is worth at most the
site's manual ceiling (`revenue_ceiling` of the sites table, `tracker site set SITE
--revenue-ceiling N`) or, without one, `revenue_ceiling_factor` (20) times the site's median
order — of its confirmed orders, else of the range's browser purchases, once there are
`revenue_ceiling_min_orders` (20) of them. Above
it, a browser-counted purchase counts in no figure (a site without confirmations) or
out of `unconfirmed_revenue` (counted in `over_ceiling_orders`): one forged 9,999,999 purchase
no longer rewrites a month. The median, not a high quantile, so that the outlier itself cannot
raise the bar.

Currencies are never summed as one: `Money.currency` is the site's reporting currency (the
currency of most of its confirmed orders, or of the range's browser purchases before any
confirmation), money figures count the orders in it, and `currencies_sql` lists every
currency's orders and revenue apart when there is more than one.

How the join works: the confirmations are read with `argMax(..., version)` per order (the
latest wins, whether or not ClickHouse has merged the ReplacingMergeTree yet), limited to
`paid`, and joined to the first browser purchase event of each order id within a day of the
range; the purchase rows of the event stream (and only they: read from the `purchases` table
under the same conditions, `_sql.purchase_rows`, so the range is not scanned twice) are LEFT ANY
JOINed to that small table on the event id, and a purchase row counts only when it matched. For a site without confirmations `events` returns
its input unchanged (no join, no cost). SQL is composed through `$name` slots only (never
user input); values are bound: {site} {start} {end} {tz} and `bind(money)`'s
{rev_currency} {rev_grace_ms}.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template
from typing import Any

from tracker.reports import _sql
from tracker.storage.client import Storage

DEFAULT_GRACE_MINUTES = 60  # a purchase the backend has not confirmed within this is "unconfirmed"
# Browser purchases are matched to confirmations within this margin around the report range,
# so an order confirmed late or whose browser event lies just outside is not counted twice.
MATCH_MARGIN = "INTERVAL 1 DAY"


def _fill(template: str, **parts: str) -> str:
    return Template(template).substitute(parts)


@dataclass(frozen=True)
class Money:
    """How a report counts money for one site and range (`money_of`)."""

    confirmed: bool  # the site has confirmed orders: count them, not the browsers' claims
    currency: str  # the reporting currency ('' when no order says)
    currencies: int  # distinct currencies among the orders that count
    grace_minutes: int = DEFAULT_GRACE_MINUTES
    ceiling: float = 0.0  # the site's sanity ceiling for unconfirmed revenue (0: none)

    @property
    def source(self) -> str:
        return "confirmed" if self.confirmed else "browser"


# The latest confirmation of each of the site's orders.
LATEST = """
    SELECT order_id, argMax(status, version) AS status, argMax(revenue, version) AS revenue,
           argMax(currency, version) AS currency, argMax(coupon, version) AS coupon,
           argMax(ordered_at, version) AS ordered_at
    FROM orders
    WHERE site = {site:String}
    GROUP BY order_id
"""

# Browser purchases near the range: the first purchase event of each order id.
_SEEN = f"""
    SELECT order_id, argMin(event_id, (ts, event_id)) AS first_event
    FROM purchases
    WHERE site = {{site:String}} AND type = 'purchase' AND order_id != ''
      AND ts >= {{start:DateTime64(3, 'UTC')}} - {MATCH_MARGIN} AND ts < {{end:DateTime64(3, 'UTC')}} + {MATCH_MARGIN}
    GROUP BY order_id
"""

_PAID = _fill("""
    SELECT s.order_id AS c_order, s.first_event AS c_event,
           o.revenue AS c_revenue, o.currency AS c_currency, o.coupon AS c_coupon
    FROM ($seen) AS s
    INNER JOIN ($latest) AS o ON s.order_id = o.order_id
    WHERE o.status = 'paid'
""", seen=_SEEN, latest=LATEST)

# A purchase that does not count keeps its row (it is still an event of its visitor and session:
# visitors, sessions, pageviews and engagement do not change with the way money is counted) with
# an empty order id and no revenue; reports count a purchase only under COUNTED (`_sql.ORDER_ID`
# is '' for it). Rewriting `type` instead made every row's type a new String column (2x slower).
COUNTED = "(type = 'purchase' AND order_id != '')"

# The confirmations applied to the purchase rows only: every other row passes untouched (its
# columns keep their types: `type` and `currency` filters of the reports still reach the read),
# and the purchase rows are LEFT ANY JOINed on their event id to the paid confirmations (first
# browser event of each counted order, its confirmed revenue, currency, coupon); a row that
# matched none counts in no money figure. The lookup is a join's right side, built once per
# read of the stream: as a scalar tuple of arrays `WITH (...) AS k` + `transform` it was
# re-evaluated for every use of `k`, and cost the promotions report 0.16 s of 0.33 at 320k events.
_CONFIRMED_STREAM = """
    SELECT * FROM ($base) WHERE type != 'purchase'
    UNION ALL
    SELECT * EXCEPT (c_order, c_event, c_revenue, c_currency, c_coupon)
             REPLACE (if(c_event = '', '', order_id) AS order_id,
                      if(c_event = '', toDecimal64(0, 4), c_revenue) AS revenue,
                      CAST(if(c_event = '', currency, c_currency) AS LowCardinality(String)) AS currency,
                      CAST(if(c_event != '' AND c_coupon != '', c_coupon, coupon) AS LowCardinality(String)) AS coupon)
    FROM ($purchases) AS e
    LEFT ANY JOIN (SELECT * FROM ($paid) WHERE 1 $currency_rule) AS p ON e.event_id = p.c_event
"""

_IN_CURRENCY = "AND c_currency = {rev_currency:String}"
_BROWSER_RULES = f"""
    SELECT * EXCEPT (counted)
             REPLACE (if(type != 'purchase' OR counted, order_id, '') AS order_id,
                      if(type != 'purchase' OR counted, revenue, toDecimal64(0, 4)) AS revenue)
    FROM (
        SELECT *, ($currency) AND ({{rev_ceiling:Float64}} = 0 OR toFloat64(revenue) <= {{rev_ceiling:Float64}}) AS counted
        FROM ($base)
    )
"""

# The site's median order: of its paid confirmations, else of the range's browser purchases,
# each only with at least {rev_min_orders} of them (0 otherwise).
MEDIAN_ORDER = f"""
    SELECT if(c.1 >= {{rev_min_orders:UInt32}}, c.2, if(b.1 >= {{rev_min_orders:UInt32}}, b.2, 0))
    FROM (SELECT (count(), quantileExact(0.5)(toFloat64(revenue))) AS c FROM ({LATEST}) WHERE status = 'paid') AS cc,
         (SELECT (count(), quantileExact(0.5)(toFloat64(revenue))) AS b FROM purchases
          WHERE site = {{site:String}} AND type = 'purchase'
            AND ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}}) AS bb
"""

# The site's manual ceiling (`tracker site set --revenue-ceiling`; 0: automatic).
SITE_CEILING = "SELECT toFloat64(argMax(revenue_ceiling, updated_at)) FROM sites WHERE site = {site:String}"


def ceiling_sql(factor: str) -> str:
    """The site's sanity ceiling as one scalar: its manual ceiling when set, else `factor` (the
    SQL of a bound parameter) times MEDIAN_ORDER (0: no ceiling). `money_of` computes the same
    from its two queries; the trust reason `revenue_outlier` reads this."""
    return f"SELECT if(m > 0, m, ({MEDIAN_ORDER}) * {factor}) FROM (SELECT ({SITE_CEILING}) AS m)"


# How the site counts money: from its confirmations (the orders table: small, read first) ...
CONFIRMED_MONEY = f"""
    SELECT count() AS orders, countIf(status = 'paid') AS paid,
           quantileExactIf(0.5)(toFloat64(revenue), status = 'paid') AS median,
           sumMapIf([currency], [toUInt64(1)], status = 'paid') AS currencies,
           ({SITE_CEILING}) AS manual_ceiling
    FROM ({LATEST})
"""
# ... and, before any confirmation or while they are too few for a median, from the range's
# browser purchases (one scan of the purchase events).
BROWSER_MONEY = """
    SELECT count() AS orders, quantileExact(0.5)(toFloat64(revenue)) AS median,
           sumMapIf([currency], [toUInt64(1)], currency != '') AS currencies
    FROM purchases
    WHERE site = {site:String} AND type = 'purchase'
      AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
"""


def _by_count(pairs: Any) -> list[str]:
    """sumMap's (currencies, counts) -> currencies, most orders first (ties by code)."""
    keys, counts = pairs or ([], [])
    return [c for n, c in sorted(zip(counts, keys), key=lambda nc: (-nc[0], nc[1])) if c]


def money_of(storage: Storage, params: dict[str, Any]) -> Money:
    """The site's way of counting money for the range in `params` (one small query on the
    orders table; a second over the range's purchases only when the site has too few
    confirmations to judge by)."""
    settings = storage.settings
    least = settings.revenue_ceiling_min_orders
    conf = storage.query(CONFIRMED_MONEY, params, what="reading how the site counts revenue").first() or {}
    confirmed = bool(conf.get("orders"))
    manual = float(conf.get("manual_ceiling") or 0)
    median = float(conf.get("median") or 0) if int(conf.get("paid") or 0) >= least else 0.0
    currencies = _by_count(conf.get("currencies")) if confirmed else []
    if (not median and not manual) or not confirmed:
        browser = storage.query(BROWSER_MONEY, params, what="reading how the site counts revenue").first() or {}
        if not median and int(browser.get("orders") or 0) >= least:
            median = float(browser.get("median") or 0)
        if not confirmed:
            currencies = _by_count(browser.get("currencies"))
    ceiling = manual or round(median * settings.revenue_ceiling_factor, 4)
    return Money(confirmed=confirmed, currency=currencies[0] if currencies else "", currencies=len(currencies),
                 grace_minutes=settings.orders_grace_minutes, ceiling=ceiling)


def bind(money: Money) -> dict[str, Any]:
    """The fragment's bound parameters (add them to the report's `ctx.bind`)."""
    return {"rev_currency": money.currency, "rev_grace_ms": money.grace_minutes * 60_000, "rev_ceiling": money.ceiling}


def events(base: str, money: Money, *, every_currency: bool = False) -> str:
    """`base` (an events query: `_sql.events(...)` or one of its columns' supersets) with its
    purchase rows counted as `money` says; every other row passes unchanged.
    `every_currency`: keep orders in every currency (for a per-currency breakdown only)."""
    if money.confirmed:
        rule = "" if every_currency else _IN_CURRENCY
        return _fill(_CONFIRMED_STREAM, base=base, purchases=_sql.purchase_rows(base), paid=_PAID, currency_rule=rule)
    if money.currencies > 1 or money.ceiling:
        return _fill(_BROWSER_RULES, base=base, currency="1" if every_currency else "currency IN ('', {rev_currency:String})")
    return base


# Paid confirmations without a browser purchase near the range, by the day of their `ts`.
ORPHANS = _fill("""
    SELECT toDate(ordered_at, {tz:String}) AS day, currency, count() AS orders, sum(revenue) AS revenue
    FROM ($latest)
    WHERE status = 'paid'
      AND ordered_at >= {start:DateTime64(3, 'UTC')} AND ordered_at < {end:DateTime64(3, 'UTC')}
      AND order_id NOT IN (SELECT order_id FROM ($seen))
    GROUP BY day, currency
    ORDER BY day, currency
""", latest=LATEST, seen=_SEEN)


def orphans(storage: Storage, params: dict[str, Any], money: Money) -> list[dict]:
    """Confirmed orders without a browser event: [{day, currency, orders, revenue}] (none for
    a site without confirmations)."""
    if not money.confirmed:
        return []
    return storage.dicts(ORPHANS, params, what="reading confirmed orders without a browser purchase")


def reconciliation_sql(base: str) -> str:
    """One row: the range's browser purchases (of `base`: its trust and filter rules apply) by
    what the backend said of them — never confirmed after the grace period (`unconfirmed_*`;
    purchases above the ceiling are counted in `over_ceiling_orders`, not in the revenue),
    not yet confirmed within it (`pending_*`), refunded (`refunded_*`). Revenue is the
    browser's claim for the first two (reporting currency or none), the confirmation's for
    refunds."""
    return _fill("""
    SELECT countIf(status = '' AND late) AS unconfirmed_orders,
           sumIf(revenue, status = '' AND late AND currency IN ('', {rev_currency:String}) AND NOT over) AS unconfirmed_revenue,
           countIf(status = '' AND late AND over) AS over_ceiling_orders,
           countIf(status = '' AND NOT late) AS pending_orders,
           sumIf(revenue, status = '' AND NOT late AND currency IN ('', {rev_currency:String})) AS pending_revenue,
           countIf(status = 'refunded') AS refunded_orders,
           sumIf(c_revenue, status = 'refunded' AND c_currency = {rev_currency:String}) AS refunded_revenue
    FROM (
        SELECT b.order_id AS order_id, b.revenue AS revenue, b.currency AS currency, b.late AS late,
               c.status AS status, c.revenue AS c_revenue, c.currency AS c_currency,
               {rev_ceiling:Float64} > 0 AND toFloat64(b.revenue) > {rev_ceiling:Float64} AS over
        FROM (
            SELECT order_id, argMin(revenue, ts) AS revenue, argMin(currency, ts) AS currency,
                   min(ts) < now64(3) - toIntervalMillisecond({rev_grace_ms:UInt64}) AS late
            FROM ($purchases)
            WHERE order_id != ''
            GROUP BY order_id
        ) AS b
        LEFT ANY JOIN ($latest) AS c ON b.order_id = c.order_id
    )
    SETTINGS join_use_nulls = 0
    """, purchases=_sql.purchase_rows(base), latest=LATEST)


def currencies_sql(base: str, money: Money) -> str:
    """Per currency: orders and revenue of the orders that count (`base` through `events`
    with every currency kept); for a site whose orders come in more than one currency."""
    return _fill("""
    SELECT currency, count() AS orders, sum(revenue) AS revenue
    FROM (
        -- each order once, as the overview counts it (its first purchase event)
        SELECT order_id, argMin(currency, ts) AS currency, argMin(revenue, ts) AS revenue
        FROM ($stream)
        WHERE $counted
        GROUP BY order_id
    )
    GROUP BY currency
    ORDER BY orders DESC, currency
    """, stream=events(base, money, every_currency=True), counted=COUNTED)


def overview_fields(storage: Storage, params: dict[str, Any], money: Money, base: str, orphan_rows: list[dict]) -> dict[str, Any]:
    """The fields the overview adds about how its money was counted (CONTRACT §9):
    `revenue_source`, `currency`, and once the site confirms orders `unconfirmed_orders`,
    `unconfirmed_revenue`, `pending_*`, `refunded_*`, `over_ceiling_orders` (None before);
    `revenue_by_currency` when the orders come in more than one currency."""
    out: dict[str, Any] = {"revenue_source": money.source, "currency": money.currency}
    keys = ("unconfirmed_orders", "unconfirmed_revenue", "pending_orders", "pending_revenue", "refunded_orders",
            "refunded_revenue", "over_ceiling_orders")
    row = storage.query(reconciliation_sql(base), params, what="reconciling orders").first() if money.confirmed else None
    for key in keys:
        value = None if row is None else row[key]
        out[key] = value if value is None or key.endswith("_orders") else round(float(value), 2)
    if money.currencies > 1:
        totals: dict[str, list] = {}
        for r in storage.dicts(currencies_sql(base, money), params, what="revenue per currency") + orphan_rows:
            entry = totals.setdefault(r["currency"], [0, 0.0])
            entry[0] += int(r["orders"])
            entry[1] += float(r["revenue"])
        out["revenue_by_currency"] = [{"currency": c, "orders": n, "revenue": round(v, 2)}
                                      for c, (n, v) in sorted(totals.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    return out
