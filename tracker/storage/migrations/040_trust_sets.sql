-- Trust: the visitors `traffic=trusted` leaves out of one site and report range, computed once
-- and read by every report of that range until the range's data or the trust settings change.
-- See tracker/reports/trust/cache.py and docs/architecture.md "Trust scores".
-- Rendered by tracker.storage.migrate (see 001_core.sql for the template syntax).

-- One partition per computed set, so a superseded set is dropped as a whole (a metadata
-- operation, no mutation). Sets are a cache: the TTL clears what a stopped server left behind.
CREATE TABLE IF NOT EXISTS ${trust_sets} $ON_CLUSTER
(
    site        LowCardinality(String),
    set_id      UInt64 COMMENT 'random id of one computation for one (site, range, trust settings)',
    vid         String,
    score       UInt8,
    reasons     Array(LowCardinality(String)),
    created_at  DateTime DEFAULT now()
)
ENGINE = $MERGETREE
PARTITION BY set_id
ORDER BY (site, set_id, vid)
TTL created_at + toIntervalDay(1)
;
-- distributed: trust_sets cityHash64(vid)
