"""Trust signals in ClickHouse SQL: per-visitor evidence for a time range of one site.

How the query works. Signals are computed in two stages so that they can be materialised:

1. **Day partials** (`partials_sql`): for each visitor and UTC day, one row of counters —
   events, bot/headless/webdriver/unsigned/forged/scripted events, the busiest sliding 60 s,
   promo clicks without a prior view of that promo, clicks faster than the human floor after
   the view, the most promo clicks in a sliding 10 s, purchases with no pageview at or before
   them, the largest client/server clock gap, the coupons redeemed and the IP prefixes used,
   pageviews (and those from HTTP libraries), pageviews before the first purchase, the first
   purchase and the promotions seen (the last three: coupon leak evidence, `leaks`). "Prior" checks use window functions over a
   *context* that reaches one day back, so a view or pageview just before midnight counts.
   `tracker.reports.trust.materialise` stores these rows per closed day in `visitor_signals`.
2. **Range** (`visitor_signals_sql`): partials of the range's whole UTC days that are
   materialised and still valid (the day's raw event count and the partials configuration
   match `trust_coverage`), UNION ALL partials computed live for every other part of the
   range — so a stale or missing materialisation costs time, never correctness. They are
   summed/maxed per visitor; then two population signals are added: fresh visitor ids per IP
   prefix within the churn window (`cookie_churn_ip`, window functions over the visitors) and
   the coupon leak evidence (`coupon_shared`, window functions over the visitors by coupon:
   `tracker.reports.trust.leaks`). On a cluster the per-visitor sums run on each shard over
   its own visitors' events and partials (`shard_local`); the population signals, which
   compare visitors, run on the initiator over all of them.

`tracker.reports.trust.score` turns these columns into reason codes and a 0-100 score.
Everything is bound: {site}, {start}, {end} and the `tt_*` thresholds from `score.trust_params`
(the scripted-client pattern is `tracker.vocabulary.SCRIPTED_CLIENT`, the one ingest flags).
Nothing here loops over rows in Python.

One placeholder style: a ClickHouse parameter is always written `{name:Type}`, and SQL is
composed from other SQL only through `$name` slots (`_fill`, `string.Template`), never through
f-strings or `str.format`, which would need the parameters' braces doubled.
"""

from __future__ import annotations

from string import Template

from tracker.reports.trust.leaks import with_leaks
from tracker.storage.shards import local, shard_local


def _fill(template: str, **parts: str) -> str:
    """`template` with its `$name` slots replaced by SQL fragments written in this package (or
    its callers' fixed predicates), never by input."""
    return Template(template).substitute(parts)


# Version of the partials' definition: bump when the partials SQL changes meaning, so that
# materialised days computed by older code are recomputed instead of trusted.
PARTIALS_VERSION = "4"

# Columns of a day partial, in the order of `visitor_signals` (after site, day, vid, computed_at).
PARTIAL_COLUMNS = (
    "events", "first_seen", "last_seen", "first_prefix", "prefixes", "bot_events", "headless_events",
    "webdriver_events", "max_per_minute", "velocity_at", "clicks", "clicks_without_view", "viewed_clicks",
    "fast_clicks", "min_click_ms", "purchases", "purchases_without_pageview", "unsigned_events",
    "forged_events", "scripted_events", "max_skew_ms", "coupons",
    # migration 064 (issue #14): scripted_pageviews, click_burst, coupon_shared's visitor evidence
    "pageviews", "scripted_pageviews", "max_clicks_10s", "pageviews_before_buy", "first_buy_ms", "promos_seen",
)

# Event rows with what the per-event rules need. `at_ms` is the client clock when the event
# carries one: the snippet batches events, so a view and a click sent together share one
# server receive time and only the client clock tells how long the visitor took to click.
# One FINAL scan with two windows: the context is small in the common cases (one day plus the
# one before for the job; today and yesterday for a report once the job has run). Splitting
# it into separate scans for clicks and purchases made fully-live ranges 2.7x faster at 10M
# events but the common cases 2x slower (every scan reads the whole range), so it was undone.
_CONTEXT = """
    SELECT vid, type, ts, promo_id, coupon, ip_prefix, ua_is_bot, ua_headless, env_webdriver,
           vid_signed, id_forged,
           match(ua, {tt_scripted_re:String}) AS scripted,
           toUnixTimestamp64Milli(ts) AS ts_ms,
           if(client_ts IS NULL, ts_ms, toUnixTimestamp64Milli(assumeNotNull(client_ts))) AS at_ms,
           if(client_ts IS NULL, 0, abs(ts_ms - at_ms)) AS skew_ms,
           maxIf(at_ms, type = 'promo_view') OVER (
               PARTITION BY vid, promo_id ORDER BY at_ms RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS view_ms,
           minIf(ts_ms, type = 'pageview') OVER (PARTITION BY vid) AS first_pv_ms,
           minIf(ts_ms, type = 'purchase') OVER (PARTITION BY vid) AS first_buy_all,
           -- rates over sliding windows of server time, not per clock minute (issue #14: a burst
           -- straddling a minute boundary halves a per-minute count): the visitor's events in
           -- the 60 s up to this one (velocity) and its promo clicks in the 10 s (click_burst).
           -- One window spec, so one sort. Server time: the client clock is the sender's to set.
           count() OVER (w_rate RANGE BETWEEN 59999 PRECEDING AND CURRENT ROW) AS per_60s,
           countIf(type = 'promo_click') OVER (w_rate RANGE BETWEEN 9999 PRECEDING AND CURRENT ROW) AS clicks_10s
    FROM $events FINAL
    WHERE site = {site:String} AND ($context)
    WINDOW w_rate AS (PARTITION BY vid ORDER BY ts_ms)
"""

# Promo events with, for each, the visitor's latest view of that promo at or before it
# (`view_ms`, 0 if none). `at_ms` is the client clock when the event carries one: the snippet
# batches events, so a view and a click sent together share one server receive time and only
# the client clock tells how long the visitor took to click. The window runs over promo events
# only (a tenth of the traffic), not over every event.
_PROMO_ROWS = """
    SELECT vid, type, ts, promo_id, ip_prefix, at_ms,
           maxIf(at_ms, type = 'promo_view') OVER (
               PARTITION BY vid, promo_id ORDER BY at_ms RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS view_ms
    FROM (
        SELECT vid, type, ts, promo_id, ip_prefix,
               if(client_ts IS NULL, toUnixTimestamp64Milli(ts), toUnixTimestamp64Milli(assumeNotNull(client_ts))) AS at_ms
        FROM $events FINAL
        WHERE site = {site:String} AND type IN ('promo_view', 'promo_click') AND ($context)
    )
"""

_MINUTES = """
    SELECT vid, toDate(ts) AS day, toStartOfMinute(ts) AS minute,
           count() AS n,
           max(per_60s) AS n60,
           min(ts) AS first_ts, max(ts) AS last_ts,
           argMin(ip_prefix, ts) AS first_prefix_m,
           groupUniqArrayIf(16)(ip_prefix, ip_prefix != '') AS prefixes_m,
           countIf(ua_is_bot = 1) AS bot_m,
           countIf(ua_headless = 1) AS headless_m,
           countIf(env_webdriver = 1) AS webdriver_m,
           countIf(type = 'promo_click') AS clicks_m,
           countIf(type = 'promo_click' AND view_ms = 0) AS cwv_m,
           countIf(type = 'promo_click' AND view_ms > 0) AS viewed_m,
           countIf(type = 'promo_click' AND view_ms > 0 AND at_ms - view_ms < {tt_fast_click_ms:UInt32}) AS fast_m,
           minIf(at_ms - view_ms, type = 'promo_click' AND view_ms > 0) AS min_click_m,
           countIf(type = 'purchase') AS purchases_m,
           countIf(type = 'purchase' AND (first_pv_ms = 0 OR first_pv_ms > ts_ms)) AS pwp_m,
           countIf(vid_signed = 0) AS unsigned_m,
           countIf(id_forged = 1) AS forged_m,
           countIf(scripted) AS scripted_m,
           max(skew_ms) AS skew_m,
           groupUniqArrayIf(coupon, type = 'purchase' AND coupon != '') AS coupons_m,
           countIf(type = 'pageview') AS pageviews_m,
           countIf(type = 'pageview' AND scripted) AS spv_m,
           maxIf(clicks_10s, type = 'promo_click') AS burst_m,
           countIf(type = 'pageview' AND (first_buy_all = 0 OR ts_ms <= first_buy_all)) AS pvb_m,
           minIf(ts_ms, type = 'purchase') AS buy_m,
           groupUniqArrayIf(16)(promo_id, type IN ('promo_view', 'promo_click') AND promo_id != '') AS promos_m
    FROM ($context_rows)
    WHERE $trigger
    GROUP BY vid, day, minute
"""

_DAYS = """
    SELECT vid, day,
           toUInt32(sum(n)) AS events,
           min(first_ts) AS first_seen,
           max(last_ts) AS last_seen,
           argMin(first_prefix_m, first_ts) AS first_prefix,
           groupUniqArrayArray(16)(prefixes_m) AS prefixes,
           toUInt32(sum(bot_m)) AS bot_events,
           toUInt32(sum(headless_m)) AS headless_events,
           toUInt32(sum(webdriver_m)) AS webdriver_events,
           toUInt32(max(n60)) AS max_per_minute,  -- busiest sliding 60 s, ending in `velocity_at`'s minute
           toDateTime64(argMax(minute, n60), 3, 'UTC') AS velocity_at,
           toUInt32(sum(clicks_m)) AS clicks,
           toUInt32(sum(cwv_m)) AS clicks_without_view,
           toUInt32(sum(viewed_m)) AS viewed_clicks,
           toUInt32(sum(fast_m)) AS fast_clicks,
           toInt64(minIf(min_click_m, viewed_m > 0)) AS min_click_ms,
           toUInt32(sum(purchases_m)) AS purchases,
           toUInt32(sum(pwp_m)) AS purchases_without_pageview,
           toUInt32(sum(unsigned_m)) AS unsigned_events,
           toUInt32(sum(forged_m)) AS forged_events,
           toUInt32(sum(scripted_m)) AS scripted_events,
           toInt64(max(skew_m)) AS max_skew_ms,
           groupUniqArrayArray(coupons_m) AS coupons,
           toUInt32(sum(pageviews_m)) AS pageviews,
           toUInt32(sum(spv_m)) AS scripted_pageviews,
           toUInt32(max(burst_m)) AS max_clicks_10s,
           toUInt32(sum(pvb_m)) AS pageviews_before_buy,
           toInt64(minIf(buy_m, buy_m > 0)) AS first_buy_ms,
           groupUniqArrayArray(16)(promos_m) AS promos_seen
    FROM ($minutes)
    GROUP BY vid, day
"""


def promo_rows_sql(context: str) -> str:
    """Promo events matching `context`, each with `view_ms` (the visitor's latest view of the
    promo at or before it, 0 if none) and `at_ms` (client clock if sent, else server time)."""
    return _fill(_PROMO_ROWS, context=context, events=local("events"))


def partials_sql(trigger: str, context: str) -> str:
    """Day partials of the events matching `trigger`, judged against events matching `context`.

    Both are fixed SQL predicates on `ts` written in this package (never user input); the
    context must include the trigger events and should reach a day before them.
    """
    rows = _fill(_CONTEXT, context=context, events=local("events"))
    return _fill(_DAYS, minutes=_fill(_MINUTES, context_rows=rows, trigger=trigger))


# Whole UTC days of the range whose materialised partials are still valid. Read once, by
# `bind_coverage`, before the query that uses them; the query gets them as bound arrays
# ({tt_cov}: (day, computed_at) pairs to read from visitor_signals, {tt_days}: those days, the
# rest of the range being computed live). Inlined as a subquery it was evaluated at each of
# its uses (four per range of partials, two ranges of partials per score query), each one a
# GROUP BY day over the range's events. A row landing in a closed day between this lookup and
# the query is seen by the next query (its day no longer matches its recorded count); today's
# events are always read live. Counts are FINAL counts (each event id once): a merge that
# drops duplicate copies, such as the trust job's merge of a closed day into one part
# (storage.repartition), must not make a day's partials look stale.
COVERED_DAYS = """
    SELECT day, computed_at
    FROM trust_coverage FINAL
    WHERE site = {site:String} AND config = {tt_partials:String}
      AND toDateTime64(day, 3, 'UTC') >= {start:DateTime64(3, 'UTC')}
      AND toDateTime64(day, 3, 'UTC') + INTERVAL 1 DAY <= {end:DateTime64(3, 'UTC')}
      AND (day, raw_events) IN (
          SELECT toDate(ts), count() FROM events FINAL
          WHERE site = {site:String} AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
          GROUP BY toDate(ts)
      )
    ORDER BY day
"""


def bind_coverage(storage, params: dict) -> dict:
    """`params` plus the range's covered days ({tt_cov}, {tt_days}), which every query built on
    RANGE_PARTIALS (VISITOR_SIGNALS, score.VISITOR_SCORES) needs bound."""
    rows = storage.query(COVERED_DAYS, params, what="reading trust coverage").rows
    return {**params, "tt_cov": [(day, at) for day, at in rows], "tt_days": [day for day, _ in rows]}


_IN_RANGE = "ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}"
_LIVE_TRIGGER = _IN_RANGE + " AND toDate(ts) NOT IN {tt_days:Array(Date)}"
_LIVE_CONTEXT = (
    "ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 1 DAY AND ts < {end:DateTime64(3, 'UTC')}"
    " AND (toDate(ts) NOT IN {tt_days:Array(Date)} OR toDate(ts) + 1 NOT IN {tt_days:Array(Date)})"
)

_COLUMNS = ", ".join(("vid", "day") + PARTIAL_COLUMNS)

# Partials of the whole range: materialised where valid, live elsewhere.
RANGE_PARTIALS = _fill("""
    SELECT $columns
    FROM $signals
    WHERE site = {site:String} AND (day, computed_at) IN {tt_cov:Array(Tuple(Date, DateTime64(3, 'UTC')))}
    UNION ALL
    SELECT $columns FROM ($live)
""", columns=_COLUMNS, signals=local("visitor_signals"), live=partials_sql(_LIVE_TRIGGER, _LIVE_CONTEXT))

# Per visitor over the range, plus cookie churn: `ahead` counts the fresh ids of the prefix in
# the window starting at this visitor's first event; a visitor's `churn_ids` is the largest
# `ahead` of any window that contains it (any id at most one window earlier), so every id of
# a dense burst is counted, not only its first or last. Computed before any row multiplication.
_VISITORS = _fill("""
    SELECT *,
           if(first_prefix = '', 0, max(ahead) OVER (PARTITION BY first_prefix ORDER BY first_ms
                                                    RANGE BETWEEN {tt_churn_window_ms:UInt64} PRECEDING AND CURRENT ROW)) AS churn_ids
    FROM (
      SELECT *,
             count() OVER (PARTITION BY first_prefix ORDER BY first_ms
                           RANGE BETWEEN CURRENT ROW AND {tt_churn_window_ms:UInt64} FOLLOWING) AS ahead
      FROM ($per_visitor)
    )
""", per_visitor=shard_local(_fill("""
        SELECT vid,
               sum(events) AS events,
               min(first_seen) AS first_seen,
               max(last_seen) AS last_seen,
               toUnixTimestamp64Milli(min(fs)) AS first_ms,
               argMin(first_prefix, fs) AS first_prefix,
               groupUniqArrayArray(16)(prefixes) AS prefixes,
               sum(bot_events) AS bot_events,
               sum(headless_events) AS headless_events,
               sum(webdriver_events) AS webdriver_events,
               max(max_per_minute) AS max_per_minute,
               argMax(velocity_at, mpm) AS velocity_at,
               sum(clicks) AS clicks,
               sum(clicks_without_view) AS clicks_without_view,
               sum(viewed_clicks) AS viewed_clicks,
               sum(fast_clicks) AS fast_clicks,
               minIf(min_click_ms, vc > 0) AS min_click_ms,
               sum(purchases) AS purchases,
               sum(purchases_without_pageview) AS purchases_without_pageview,
               sum(unsigned_events) AS unsigned_events,
               sum(forged_events) AS forged_events,
               sum(scripted_events) AS scripted_events,
               max(max_skew_ms) AS max_skew_ms,
               groupUniqArrayArray(coupons) AS coupons,
               sum(pageviews) AS pageviews,
               sum(scripted_pageviews) AS scripted_pageviews,
               max(max_clicks_10s) AS max_clicks_10s,
               sum(pageviews_before_buy) AS pageviews_before_buy,
               minIf(first_buy_ms, fb > 0) AS first_buy_ms,
               groupUniqArrayArray(16)(promos_seen) AS promos_seen
        -- aliases fs/mpm/vc/fb: an aggregate may not read another aggregate's same-named alias
        FROM (SELECT *, first_seen AS fs, max_per_minute AS mpm, viewed_clicks AS vc, first_buy_ms AS fb FROM ($range_partials))
        GROUP BY vid
""", range_partials=RANGE_PARTIALS)))

# One row per visitor: its signals, churn count, and the coupon leak evidence of `leaks`
# (`shared_coupon` is the code when coupon_shared fires).
VISITOR_SIGNALS = with_leaks(_VISITORS)
