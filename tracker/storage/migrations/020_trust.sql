-- Trust and safety: per-visitor, per-UTC-day partial signals and the record of which days
-- they cover. See docs/architecture.md "Trust scores" for why partials per day rather than
-- final scores: a score belongs to a time range, and these partials combine exactly (sums,
-- maxima, unions) into the signals of any range made of whole days.

-- One row per (site, day, vid, computation). Rows of older computations of a day stay until
-- TTL or a merge replaces them; readers only take rows whose computed_at is the one recorded
-- in trust_coverage for that day, so a recomputation never mixes with its predecessor.
CREATE TABLE IF NOT EXISTS ${visitor_signals} $ON_CLUSTER
(
    site                        LowCardinality(String),
    day                         Date,
    vid                         String,
    computed_at                 DateTime64(3, 'UTC'),
    events                      UInt32,
    first_seen                  DateTime64(3, 'UTC'),
    last_seen                   DateTime64(3, 'UTC'),
    first_prefix                LowCardinality(String) COMMENT 'IP prefix of the visitor''s first event that day',
    prefixes                    Array(String) COMMENT 'distinct IP prefixes seen that day (at most 16)',
    bot_events                  UInt32,
    headless_events             UInt32,
    webdriver_events            UInt32,
    max_per_minute              UInt32,
    velocity_at                 DateTime64(3, 'UTC'),
    clicks                      UInt32,
    clicks_without_view         UInt32,
    viewed_clicks               UInt32,
    fast_clicks                 UInt32 COMMENT 'depends on trust_fast_click_ms: coverage.config',
    min_click_ms                Int64,
    purchases                   UInt32,
    purchases_without_pageview  UInt32,
    unsigned_events             UInt32,
    forged_events               UInt32,
    scripted_events             UInt32,
    max_skew_ms                 Int64,
    coupons                     Array(String)
)
ENGINE = $REPLACING(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, vid)
TTL day + toIntervalDay($EVIDENCE_DAYS)
;
-- distributed: visitor_signals cityHash64(vid)
;
-- Which (site, day) the partials cover: the raw event count of the day when computed and the
-- configuration the partials depend on. A day counts as covered only while both still match,
-- so late inserts, erasures or a changed setting fall back to computing that day live.
CREATE TABLE IF NOT EXISTS ${trust_coverage} $ON_CLUSTER
(
    site         LowCardinality(String),
    day          Date,
    computed_at  DateTime64(3, 'UTC'),
    raw_events   UInt64,
    config       String
)
ENGINE = $REPLACING(computed_at)
ORDER BY (site, day)
TTL day + toIntervalDay($EVIDENCE_DAYS)
;
-- distributed: trust_coverage cityHash64(site)
