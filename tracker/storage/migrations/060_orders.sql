-- Orders confirmed by the shop's backend (`POST /api/orders`, tracker/orders/). One row per
-- confirmation received; the latest confirmation of an order wins.
-- Rendered by tracker.storage.migrate (see 001_core.sql for the template syntax).

-- Idempotent by (site, order_id): a ReplacingMergeTree keyed on it with `version` (receive
-- time in microseconds * 1000 + the order's index in its request), so a retried or corrected
-- confirmation replaces the older one. Readers never rely on merges having happened: they
-- take `argMax(..., version)` per order (tracker/reports/revenue.py).
-- No `vid` column: an order is the shop's record, linked to a visitor only through the
-- browser's `purchase` event with the same order id, which privacy erasure removes
-- (docs/orders.md, "Privacy").
-- fsync_after_insert: a 202 promises the confirmation is on disk, as /api/collect's spool does;
-- orders are few (one row per order), so the fsync of each insert costs nothing that matters.
CREATE TABLE IF NOT EXISTS ${orders} $ON_CLUSTER
(
    site         LowCardinality(String),
    order_id     String,
    status       LowCardinality(String) COMMENT 'paid | refunded',
    revenue      Decimal(18, 4),
    currency     LowCardinality(String),
    coupon       String COMMENT 'upper case; empty when the confirmation named none',
    ordered_at   DateTime64(3, 'UTC') COMMENT 'the order time the shop sent (ts), else the receive time',
    received_at  DateTime64(3, 'UTC'),
    token_id     String COMMENT 'the ingest token that sent it',
    version      UInt64 COMMENT 'receive time (us) * 1000 + index in the request: the latest wins'
)
ENGINE = $REPLACING(version)
ORDER BY (site, order_id)
SETTINGS fsync_after_insert = 1, fsync_part_directory = 1
;
-- distributed: orders cityHash64(order_id)
