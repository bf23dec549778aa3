-- Session fragments per (site, visitor, UTC day) of closed days, and the record of which days
-- they cover (issue #15): what lets the overview read a few rows per visitor-day
-- instead of cutting every event into sessions at query time. Built by the trust job after it
-- merges a closed day (tracker/reports/session_days.py); the overview adds them up, correcting
-- the few that share a session across midnight, and reads raw events for every day they do not
-- cover (today, a range's partial edge days, a day whose FINAL count changed since).
-- Rendered by tracker.storage.migrate (see 001_core.sql for the template syntax).

-- One row per (site, day, visitor, computation). Readers take only the rows whose computed_at is
-- the one recorded in session_coverage for that day, so a rebuilt day never mixes with the rows
-- it replaced (those go at the next merge).
CREATE TABLE IF NOT EXISTS ${session_days} $ON_CLUSTER
(
    site         LowCardinality(String),
    day          Date,
    visitor      UInt64 COMMENT 'cityHash64(vid), the reports'' visitor key',
    vid          String,
    computed_at  DateTime64(3, 'UTC'),
    first_ms     Int64 COMMENT 'epoch ms of the day''s first event',
    last_ms      Int64,
    pageviews    UInt32,
    sessions     UInt32 COMMENT 'sessions cut within the day alone',
    bounces      UInt32,
    session_ms   Int64 COMMENT 'sum of within-session gaps',
    first_pv     UInt32 COMMENT 'pageviews of the day''s first session',
    first_eng    UInt8 COMMENT 'the first session had an engagement event',
    last_pv      UInt32,
    last_eng     UInt8,
    hours        UInt32 COMMENT 'bit h: an event in UTC hour h',
    pv_hours     Array(UInt8) COMMENT 'UTC hours with pageviews, with their counts in pv_counts',
    pv_counts    Array(UInt32),
    purchases    Array(Tuple(event_id String, order_id String, revenue Decimal(18, 4), currency String, coupon String, ms Int64))
        COMMENT 'every purchase event as stored: money rules apply at report time'
)
ENGINE = $REPLACING(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor)
TTL day + toIntervalDay($RETENTION_DAYS)
;
-- distributed: session_days cityHash64(vid)
;
-- Which (site, day) the fragments cover: the day's FINAL event count when they were built. A
-- day counts as covered only while it still matches, so a late event, an import or an erasure
-- sends the day back to raw events until it is rebuilt.
CREATE TABLE IF NOT EXISTS ${session_coverage} $ON_CLUSTER
(
    site         LowCardinality(String),
    day          Date,
    computed_at  DateTime64(3, 'UTC'),
    raw_events   UInt64
)
ENGINE = $REPLACING(computed_at)
ORDER BY (site, day)
TTL day + toIntervalDay($RETENTION_DAYS)
;
-- distributed: session_coverage cityHash64(site)
