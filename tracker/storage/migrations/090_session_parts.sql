-- Session parts per (site, UTC day, visitor, session start) of closed days (issue #15): the
-- session reports' rollup beside the overview's fragments (081_session_days.sql). A part is one
-- session as cut within its UTC day alone, with the dimensions and measures the session reports
-- group by; only a session that runs across midnight is in two parts, and readers join those
-- (tracker/reports/session_parts.py). Built with the day's fragments, under the same
-- `computed_at`, so one session_coverage row says which build of a day both tables hold.
-- Rendered by tracker.storage.migrate (see 001_core.sql for the template syntax).
CREATE TABLE IF NOT EXISTS ${session_parts} $ON_CLUSTER
(
    site         LowCardinality(String),
    day          Date,
    visitor      UInt64 COMMENT 'cityHash64(vid), the reports'' visitor key',
    vid          String,
    computed_at  DateTime64(3, 'UTC'),
    start_ms     Int64 COMMENT 'epoch ms of the part''s first event',
    end_ms       Int64,
    pageviews    UInt32,
    engaged      UInt8 COMMENT 'an engagement event (CONTRACT §3 bounce rule)',
    utm_source   LowCardinality(String) COMMENT 'tags of an event at the first instant',
    utm_medium   LowCardinality(String),
    utm_campaign LowCardinality(String),
    refs         Array(String) COMMENT 'outside referrer hosts of the pageviews at the first pageview''s instant',
    entry        UInt64 COMMENT 'cityHash64 of the first pageview''s path; 0 without one',
    pages        Array(UInt64) COMMENT 'cityHash64 of the paths viewed, in time order',
    device       LowCardinality(String) COMMENT 'of an event at the first instant',
    browser      LowCardinality(String),
    os           LowCardinality(String),
    purchases    Array(Tuple(event_id String, order_id String, revenue Decimal(18, 4), currency String, coupon String, ms Int64))
        COMMENT 'every purchase event as stored: money rules apply at report time'
)
ENGINE = $REPLACING(computed_at)
PARTITION BY toYYYYMM(day)
ORDER BY (site, day, visitor, start_ms)
TTL day + toIntervalDay($RETENTION_DAYS)
;
-- distributed: session_parts cityHash64(vid)
;
-- Days built before this table existed have fragments but no parts: forget their coverage, so
-- reports read them raw until the trust job rebuilds them (both tables, one computed_at).
TRUNCATE TABLE IF EXISTS ${session_coverage} $ON_CLUSTER
;
-- A coverage row may cover a prefix of its day: today up to a watermark (`session_days.refresh_today`).
ALTER TABLE ${session_coverage} $ON_CLUSTER
    ADD COLUMN IF NOT EXISTS upto DateTime64(3, 'UTC') DEFAULT toDateTime64(day, 3, 'UTC') + INTERVAL 1 DAY
        COMMENT 'the covered window is [day, upto)'
;
-- In cluster mode the statement above changed session_coverage_local; the Distributed table
-- over it must match. On a single node this is the same table, already changed: a no-op.
ALTER TABLE session_coverage $ON_CLUSTER
    ADD COLUMN IF NOT EXISTS upto DateTime64(3, 'UTC') DEFAULT toDateTime64(day, 3, 'UTC') + INTERVAL 1 DAY
        COMMENT 'the covered window is [day, upto)'
