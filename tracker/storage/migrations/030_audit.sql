-- Access control and privacy: audit log, token last-use, erasure ledger.
-- Rendered by tracker.storage.migrate (see 001_core.sql for the template syntax).

-- Who called what. One row per API request that needed (or presented) a token; never
-- /api/collect. `route` is the path template (`/api/reports/{name}`), never raw query values.
-- Rows expire after `audit_retention_days` (TTL set from settings by apply_retention).
CREATE TABLE IF NOT EXISTS ${audit_log} $ON_CLUSTER
(
    at           DateTime64(3, 'UTC'),
    token_id     String COMMENT 'public id of the token; empty when none was valid',
    token_name   String,
    role         LowCardinality(String),
    method       LowCardinality(String),
    route        LowCardinality(String) COMMENT 'path template, no query string',
    site         String,
    status       UInt16,
    duration_ms  Float32
)
ENGINE = $MERGETREE
PARTITION BY toYYYYMM(at)
ORDER BY (at, token_id)
TTL toDateTime(at) + toIntervalDay(400)
;
-- distributed: audit_log rand()
;
-- Last use of each token, written at most once a minute per token (never on every request),
-- so `tokens` rows are not rewritten by traffic.
CREATE TABLE IF NOT EXISTS ${token_usage} $ON_CLUSTER
(
    token_id   String,
    last_used  DateTime64(3, 'UTC')
)
ENGINE = $REPLACING(last_used)
ORDER BY token_id
;
-- distributed: token_usage cityHash64(token_id)
;
-- The erasure ledger: proof that a privacy erasure ran, without keeping whom it was about.
-- `vid_hash` is HMAC-SHA256(privacy salt, vid): the same vid can be checked later by someone
-- holding the salt, but the ledger alone names nobody.
CREATE TABLE IF NOT EXISTS ${erasures} $ON_CLUSTER
(
    at          DateTime64(3, 'UTC'),
    by_token    String COMMENT 'token name of the admin, or forget-me for the visitor itself',
    vid_hash    String,
    site        String COMMENT 'empty: every site',
    counts      Map(String, UInt64) COMMENT 'rows erased per table (spool: not yet flushed)'
)
ENGINE = $MERGETREE
ORDER BY at
;
-- distributed: erasures rand()
