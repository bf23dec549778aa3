-- The promotion rows of `events` (promo_view, promo_click), kept apart as they are inserted (#15).
-- Rendered by tracker.storage.migrate (see 001_core.sql for the template syntax).

-- Why: as for `purchases` (083). The promotions report reads only promo views, promo clicks
-- and purchases, about 16 % of the events of a shop; `events` is sorted by the random event
-- id, so `type IN (...)` skips no granule and the report scanned (FINAL) every event of the
-- range. This table holds the same rows, columns and dedup, fed by the materialized view
-- `promo_events_mv` (tracker/storage/views.py creates it and backfills this table on the
-- first start after this migration, and after `repartition` rebuilt `events`). Privacy
-- erasure and export find it by its `vid` column; retention expires it with `events`.
CREATE TABLE IF NOT EXISTS ${promo_events} $ON_CLUSTER AS ${events}
ENGINE = $REPLACING(dedup_ver)
PARTITION BY toDate(ts)
ORDER BY (site, event_id)
TTL toDateTime(ts) + toIntervalDay($RETENTION_DAYS)
;
-- Sharded like events (by visitor), so a visitor's promo events lie on the shard of its events.
-- distributed: promo_events cityHash64(vid)
