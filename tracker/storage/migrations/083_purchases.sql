-- The purchase rows of `events`, kept apart as they are inserted (#20).
-- Rendered by tracker.storage.migrate (see 001_core.sql for the template syntax).

-- Why. Every money figure reads the range's purchases: which orders were confirmed, the
-- site's median order, the reconciliation, the purchase rows that confirmed revenue rewrites.
-- `events` is sorted by the random event id, so `type = 'purchase'` skips no granule: every
-- such read scanned the whole range (about 1 row in 100 is a purchase). This table holds the
-- same rows, the same columns and the same dedup (ReplacingMergeTree on (site, event_id),
-- read with FINAL), so a query over `events` limited to purchases reads the same rows from here.
-- It is fed by the materialized view `purchases_mv` (tracker/storage/views.py creates it, and
-- re-creates it and backfills this table whenever `events` lost it: on first start after this
-- migration, and after `repartition` rebuilt `events`). Privacy erasure and export find it by
-- its `vid` column like every visitor table; retention expires it with `events`.
CREATE TABLE IF NOT EXISTS ${purchases} $ON_CLUSTER AS ${events}
ENGINE = $REPLACING(dedup_ver)
PARTITION BY toDate(ts)
ORDER BY (site, event_id)
TTL toDateTime(ts) + toIntervalDay($RETENTION_DAYS)
;
-- Sharded like events (by visitor), so a visitor's purchases lie on the shard of its events.
-- distributed: purchases cityHash64(vid)
