-- Core tables: events, sites, tokens, dead letters.
-- Rendered by tracker.storage.migrate: $ON_CLUSTER, $REPLACING(ver), $MERGETREE, $RETENTION_DAYS,
-- and ${name} table names (name_local + a Distributed `name` in cluster mode).
-- Statements are separated by lines holding only ';'.

-- One row per accepted event. Deduplication: ReplacingMergeTree keyed on (site, event_id),
-- the client's dedupe key, so a retried or replayed event collapses to one row whatever
-- visitor id or server time the copy carried; `dedup_ver` keeps the FIRST copy received.
-- Reports read with FINAL, cheap with day partitions whose closed days are merged into one
-- part (tracker/storage/repartition.py; stores of the earlier month layout are rebuilt once).
CREATE TABLE IF NOT EXISTS ${events} $ON_CLUSTER
(
    site            LowCardinality(String),
    event_id        String,
    type            LowCardinality(String),
    ts              DateTime64(3, 'UTC') COMMENT 'server receive time: the event time',
    client_ts       Nullable(DateTime64(3, 'UTC')) COMMENT 'client clock, kept for trust signals',
    received_at     DateTime64(3, 'UTC'),
    vid             String,
    id_source       LowCardinality(String) COMMENT 'cookie | client | import',
    vid_signed      UInt8,
    id_forged       UInt8 COMMENT 'the request carried a _tid whose signature failed',
    sid             String,
    url             String,
    host            LowCardinality(String),
    path            String,
    query           String,
    ref             String,
    ref_host        LowCardinality(String),
    utm_source      LowCardinality(String),
    utm_medium      LowCardinality(String),
    utm_campaign    LowCardinality(String),
    utm_term        String,
    utm_content     String,
    click_id_type   LowCardinality(String) COMMENT 'gclid, fbclid, ... (presence only, never the id)',
    name            LowCardinality(String),
    promo_id        LowCardinality(String),
    promo_name      String,
    promo_creative  LowCardinality(String),
    promo_slot      LowCardinality(String),
    promo_variant   LowCardinality(String),
    order_id        String,
    revenue         Decimal(18, 4),
    currency        LowCardinality(String),
    coupon          LowCardinality(String),
    props           Map(String, String),
    ua              LowCardinality(String),
    ua_browser      LowCardinality(String),
    ua_version      LowCardinality(String),
    ua_os           LowCardinality(String),
    ua_device       LowCardinality(String) COMMENT 'desktop | mobile | tablet | bot | other',
    ua_is_bot       UInt8,
    ua_headless     UInt8,
    ip_prefix       LowCardinality(String) COMMENT 'truncated network prefix, never the address',
    ip_hash         String COMMENT 'daily-salted hash of the address; the salt is not kept',
    has_origin      UInt8,
    env_webdriver   Int8 COMMENT '-1 unknown, 0 false, 1 true',
    env_screen      LowCardinality(String),
    env_lang        LowCardinality(String),
    env_tz          LowCardinality(String),
    dedup_ver       UInt64 MATERIALIZED toUInt64(4102444800000) - toUInt64(toUnixTimestamp64Milli(received_at)),
    INDEX vid_bf vid TYPE bloom_filter(0.01) GRANULARITY 4,
    INDEX ts_mm ts TYPE minmax GRANULARITY 1
)
ENGINE = $REPLACING(dedup_ver)
PARTITION BY toDate(ts)
ORDER BY (site, event_id)
TTL toDateTime(ts) + toIntervalDay($RETENTION_DAYS)
SETTINGS non_replicated_deduplication_window = 10000
;
-- On a cluster, sharded by visitor: a visitor's events live on one shard, so sessions, funnels,
-- trust signals and FINAL's dedup run per shard. A retried event keeps its visitor id, so its
-- copies meet on one shard; only a copy re-sent under another visitor id (a cookieless client
-- whose retry was given a new id) lands elsewhere and is not collapsed: the cluster's edge.
-- distributed: events cityHash64(vid)
;
CREATE TABLE IF NOT EXISTS ${sites} $ON_CLUSTER
(
    site        String,
    origins     Array(String),
    created_at  DateTime64(3, 'UTC'),
    updated_at  DateTime64(3, 'UTC'),
    deleted     UInt8 DEFAULT 0
)
ENGINE = $REPLACING(updated_at)
ORDER BY site
;
-- Replacing tables are sharded by their key, so every version of a row meets its FINAL.
-- distributed: sites cityHash64(site)
;
CREATE TABLE IF NOT EXISTS ${tokens} $ON_CLUSTER
(
    token_id    String COMMENT 'public part of the token, used for lookup',
    name        String,
    role        LowCardinality(String),
    sites       Array(String) COMMENT 'empty: all sites',
    secret_hash String COMMENT 'sha256 of the secret part; the secret itself is never stored',
    created_at  DateTime64(3, 'UTC'),
    revoked_at  Nullable(DateTime64(3, 'UTC')),
    updated_at  DateTime64(3, 'UTC')
)
ENGINE = $REPLACING(updated_at)
ORDER BY token_id
;
-- distributed: tokens cityHash64(token_id)
;
-- Spool records ClickHouse refused even one row at a time: kept for inspection and erasure.
CREATE TABLE IF NOT EXISTS ${dead_letters} $ON_CLUSTER
(
    at       DateTime64(3, 'UTC'),
    segment  String,
    error    String,
    vid      String,
    row      String
)
ENGINE = $MERGETREE
ORDER BY at
TTL toDateTime(at) + toIntervalDay($EVIDENCE_DAYS)
;
-- distributed: dead_letters rand()
