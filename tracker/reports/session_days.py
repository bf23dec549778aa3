"""Session fragments per (site, visitor, UTC day): the session reports' rollup (issue #15).

Why. Every session report cut each visitor's events of the range into sessions at query time:
at 10M events that GROUP BY over every event is most of a report's second. A closed day does
not change, so its cut is kept: one row per visitor and UTC day (`session_days`) with what a
report needs to put the days back together. Plausible keeps `sessions` beside `events` for the
same reason; a fragment per day rather than per session keeps the build a plain GROUP BY of
one day partition and makes midnight the only seam.

A fragment holds the day's first and last event (epoch ms), pageviews, the sessions cut
within the day alone, their bounces and summed length, the pageviews and engagement flag of
its first and last session, the UTC hours with events (a bitmap) and pageviews per hour,
and every purchase event as stored (money rules change with the orders table, so they are
applied at report time, `revenue.events`). Stitching (`STITCHED`): a visitor's fragments in
time order; where the gap from one fragment's last event to the next one's first is at most
30 minutes their boundary sessions are one session (one session fewer, the gap added to the
length, its bounce judged on the merged pageviews and engagement). The boundary sessions are
laid out in order with a flag "continues the previous one" and cut the way a timeline is cut,
so a session running through a whole day into the next is merged over three fragments.
Days in the report's tz come from the hours: exact whenever every UTC hour of the range falls
on one tz day (`hour_aligned`: whole-hour offsets; otherwise the report reads raw events).

Coverage. The build (`build_day`, run by the trust job right after it merges closed days)
counts the day's events FINAL first and records the count in `session_coverage`; a report
treats a day as covered only while that count is still the day's FINAL count
(`bind_coverage`), so a late event, an import or an erasure sends the day back to raw events
until the next tick rebuilds it. Today, partial days at the range's edges (a tz other than
UTC) and stale days are cut live by the same fragment SQL over raw events (`LIVE`), so a
report is one union whatever is covered.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from tracker.reports import _sql
from tracker.storage.client import Storage

log = logging.getLogger(__name__)

SETTLE = timedelta(minutes=5)  # a day is closed once this long has passed since its end
MAX_DAYS_PER_TICK = 31

# One fragment per (visitor, UTC day) of the events `FROM events FINAL WHERE site AND $where`.
# Keys pack epoch ms * 4 + 2 * engagement + pageview, as `_sql.sessions` does.
_FRAGMENT_COLUMNS = ("visitor", "vid", "day", "first_ms", "last_ms", "pageviews", "sessions", "bounces", "session_ms",
                     "first_pv", "first_eng", "last_pv", "last_eng", "hours", "pv_hours", "pv_counts", "purchases",
                     "s_start", "s_end", "s_pv", "s_eng", "s_touch", "s_agent", "s_landing")


def fragments_sql(where: str) -> str:
    """Fragments of the site's events matching `where` (a fixed predicate on `ts` written in
    this package, never user input)."""
    return f"""
    SELECT visitor, any_vid AS vid, day,
           arrayMap(x -> toInt64(intDiv(x, 4)), keys) AS t,
           arrayMap((gap, i) -> toUInt8(i = 1 OR gap > {_sql.SESSION_GAP_MS}), arrayDifference(t), arrayEnumerate(t)) AS new,
           arrayMap(s -> (toUInt32(arrayCount(x -> x % 2 = 1, s)), toUInt8(arrayExists(x -> intDiv(x, 2) % 2 = 1, s))),
                    arraySplit((x, n) -> n = 1, keys, new)) AS cut,
           t[1] AS first_ms, t[-1] AS last_ms,
           toUInt32(arrayCount(x -> x % 2 = 1, keys)) AS pageviews,
           toUInt32(length(cut)) AS sessions,
           toUInt32(arrayCount(s -> s.1 = 1 AND s.2 = 0, cut)) AS bounces,
           arraySum((gap, n) -> if(n = 1, 0, gap), arrayDifference(t), new) AS session_ms,
           cut[1].1 AS first_pv, cut[1].2 AS first_eng, cut[-1].1 AS last_pv, cut[-1].2 AS last_eng,
           hours, pvh.1 AS pv_hours, pvh.2 AS pv_counts, purchases,
           arraySplit((x, n) -> n = 1, keys, new) AS split_keys,
           arrayMap(s -> toInt64(intDiv(s[1], 4)), split_keys) AS s_start,
           arrayMap(s -> toInt64(intDiv(s[-1], 4)), split_keys) AS s_end,
           arrayMap(c -> c.1, cut) AS s_pv, arrayMap(c -> c.2, cut) AS s_eng,
           arrayMap(st -> arrayFirst(x -> x.1 = st, tags).2, s_start) AS s_touch,
           arrayMap(st -> arrayFirst(x -> x.1 = st, agents).2, s_start) AS s_agent,
           arrayMap(s -> arrayMap(v -> v.2, arrayFilter(v -> v.1 = toInt64(intDiv(arrayFirst(x -> x % 2 = 1, s), 4)), views)), split_keys) AS s_landing
    FROM (
        SELECT {_sql.VISITOR} AS visitor, toDate(ts) AS day, any(vid) AS any_vid,
               arraySort(groupArray(toUInt64(toUnixTimestamp64Milli(ts)) * 4 + 2 * toUInt8({_sql.IS_ENGAGEMENT}) + (type = 'pageview'))) AS keys,
               toUInt32(groupBitOr(bitShiftLeft(toUInt32(1), toHour(ts)))) AS hours,
               sumMapIf([toUInt8(toHour(ts))], [toUInt32(1)], type = 'pageview') AS pvh,
               groupArrayIf((event_id, order_id, revenue, toString(currency), toString(coupon), toInt64(toUnixTimestamp64Milli(ts))),
                            type = 'purchase') AS purchases,
               groupArrayIf((toInt64(toUnixTimestamp64Milli(ts)), (toString(utm_source), toString(utm_medium), toString(utm_campaign))),
                            utm_source != '' OR utm_medium != '' OR utm_campaign != '') AS tags,
               groupArray((toInt64(toUnixTimestamp64Milli(ts)), (toString(ua_device), toString(ua_browser), toString(ua_os)))) AS agents,
               groupArrayIf((toInt64(toUnixTimestamp64Milli(ts)), (toString(ref_host), toString(host))), type = 'pageview') AS views
        FROM events FINAL
        WHERE site = {{site:String}} AND {where}
        GROUP BY visitor, day
    )"""


_COLUMNS = ", ".join(_FRAGMENT_COLUMNS)

_BUILD = f"""
    INSERT INTO session_days (site, computed_at, {_COLUMNS})
    SELECT {{site:String}}, {{computed_at:DateTime64(3, 'UTC')}}, {_COLUMNS}
    FROM ({fragments_sql("toDate(ts) = {day:Date}")})
"""

_STALE = """
    SELECT e.site AS site, e.day AS day
    FROM (
        SELECT site, toDate(ts) AS day, count() AS raw
        FROM events FINAL
        WHERE ts >= {oldest:DateTime64(3, 'UTC')} AND ts < {closed_before:DateTime64(3, 'UTC')}
          AND ({site:String} = '' OR site = {site:String})
        GROUP BY site, day
    ) AS e
    LEFT JOIN (
        SELECT site, day, argMax(raw_events, computed_at) AS raw_events
        FROM session_coverage
        WHERE {site:String} = '' OR site = {site:String}
        GROUP BY site, day
    ) AS c ON e.site = c.site AND e.day = c.day
    WHERE c.raw_events != e.raw
    ORDER BY e.day DESC, e.site
    LIMIT {limit:UInt32}
"""


def closed_before(now: datetime) -> datetime:
    """Start of the latest UTC day that ended at least SETTLE ago."""
    moment = now - SETTLE
    return datetime(moment.year, moment.month, moment.day)


def stale_days(storage: Storage, *, site: str = "", now: datetime | None = None, limit: int = MAX_DAYS_PER_TICK) -> list[tuple[str, date]]:
    """Closed (site, day)s whose fragments are missing or no longer match the day's events."""
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    params = {"site": site, "oldest": now - timedelta(days=storage.settings.retention_days), "closed_before": closed_before(now),
              "limit": limit}
    return [(s, d) for s, d in storage.query(_STALE, params, what="finding stale session days").rows]


def build_day(storage: Storage, site: str, day: date) -> int:
    """(Re)build one site-day's fragments; returns the FINAL event count they cover."""
    params = {"site": site, "day": day}
    # Count first: rows landing after the count make the day look stale (rebuilt, read raw
    # meanwhile) rather than covering rows the fragments never saw.
    raw = int(storage.scalar("SELECT count() FROM events FINAL WHERE site = {site:String} AND toDate(ts) = {day:Date}", params,
                             what="counting a session day") or 0)
    computed_at = datetime.now(UTC).replace(tzinfo=None)
    storage.command(_BUILD, {**params, "computed_at": computed_at}, what="building session fragments")
    storage.command(
        "INSERT INTO session_coverage (site, day, computed_at, raw_events) "
        "VALUES ({site:String}, {day:Date}, {computed_at:DateTime64(3, 'UTC')}, {raw:UInt64})",
        {**params, "computed_at": computed_at, "raw": raw}, what="recording session coverage")
    return raw


def refresh(storage: Storage, *, site: str = "", now: datetime | None = None, limit: int = MAX_DAYS_PER_TICK) -> list[tuple[str, date]]:
    """Build the stale closed days (of one site when given), newest first; return them."""
    days = stale_days(storage, site=site, now=now, limit=limit)
    for s, d in days:
        build_day(storage, s, d)
    return days


# Whole UTC days of the range whose fragments still match the day's FINAL count; read once per
# report, bound as arrays ({sr_cov}: (day, computed_at) pairs, {sr_days}: those days).
COVERED_DAYS = """
    SELECT day, computed_at
    FROM session_coverage FINAL
    WHERE site = {site:String}
      AND toDateTime64(day, 3, 'UTC') >= {start:DateTime64(3, 'UTC')}
      AND toDateTime64(day, 3, 'UTC') + INTERVAL 1 DAY <= {end:DateTime64(3, 'UTC')}
      AND (day, raw_events) IN (
          SELECT toDate(ts), count() FROM events FINAL
          WHERE site = {site:String} AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
          GROUP BY toDate(ts)
      )
    ORDER BY day
"""


def bind_coverage(storage: Storage, params: dict) -> dict:
    """`params` plus the range's covered days ({sr_cov}, {sr_days}); none when nothing is."""
    rows = storage.query(COVERED_DAYS, params, what="reading session coverage").rows
    return {**params, "sr_cov": [(d, at) for d, at in rows], "sr_days": [d for d, _ in rows]}


def use_rollup(storage: Storage, scope, bind: dict, *, by_day: bool) -> tuple[dict, bool]:
    """Whether a report of `scope` reads fragments, and its bound parameters for that: only
    without filters (a filter picks sessions by dimensions fragments do not keep whole), for a
    report with days in tz (`by_day`) only when `hour_aligned`, and only when some day of the
    range is covered (otherwise the raw query is the same work)."""
    if scope.filters or (by_day and not hour_aligned(scope.tz, scope.start_ts, scope.end_ts)):
        return bind, False
    bind = bind_coverage(storage, bind)
    return bind, bool(bind["sr_days"])


def hour_aligned(tz: str, start: datetime, end: datetime) -> bool:
    """Every UTC hour of [start, end) lies on one day in `tz` (naive UTC datetimes): true for
    UTC and whole-hour offsets, false for e.g. Asia/Kolkata or a half-hour DST shift."""
    zone = ZoneInfo(tz)
    hour = start.replace(minute=0, second=0, microsecond=0, tzinfo=UTC)
    while hour < end.replace(tzinfo=UTC):
        for moment in (hour, hour + timedelta(minutes=59, seconds=59, microseconds=999000)):
            offset = moment.astimezone(zone).utcoffset()
            if offset is None or offset.total_seconds() % 3600:
                return False
        if hour.astimezone(zone).utcoffset() != (hour + timedelta(minutes=59)).astimezone(zone).utcoffset():
            return False
        hour += timedelta(hours=1)
    return True


# The fragments of a report range: stored ones of covered days, live ones for the rest.
STORED = f"""
    SELECT {_COLUMNS}
    FROM session_days
    WHERE site = {{site:String}} AND (day, computed_at) IN {{sr_cov:Array(Tuple(Date, DateTime64(3, 'UTC')))}}"""

LIVE = fragments_sql("ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')} AND toDate(ts) NOT IN {sr_days:Array(Date)}")


def fragments() -> str:
    """Every fragment of the range (bind `bind_coverage`'s arrays)."""
    return f"SELECT {_COLUMNS} FROM ({STORED}) UNION ALL SELECT {_COLUMNS} FROM ({LIVE})"


_NO_PURCHASE = "[('', '', toDecimal64(0, 4), '', '', toInt64(0))]"
# What the overview's rows carry of each fragment; per-day columns by tz (`stitched`).
_CARRY = ("first_ms", "last_ms", "pageviews", "sessions", "bounces", "session_ms", "first_pv", "first_eng", "last_pv", "last_eng")


def rows(money_rules, carry: str) -> str:
    """The range's fragments as event-like rows for `revenue.events`: per fragment one row with
    j = 1 and type '' carrying `carry` (an SQL select list over the fragment's columns), then one
    row per purchase event (type 'purchase', with event_id, order_id, revenue, currency, coupon
    and its epoch ms `ms`). `money_rules` wraps that query (e.g. `lambda base:
    revenue.events(base, money)`)."""
    base = f"""
    SELECT visitor, {carry}, j, p.1 AS event_id, p.2 AS order_id, p.3 AS revenue, p.4 AS currency, p.5 AS coupon, p.6 AS ms,
           if(j = 1, '', 'purchase') AS type
    FROM ({fragments()})
    ARRAY JOIN arrayConcat({_NO_PURCHASE}, purchases) AS p, arrayEnumerate(arrayConcat({_NO_PURCHASE}, purchases)) AS j"""
    return money_rules(base) if money_rules else base


def _tz_day(day: str, hour: str) -> str:
    return f"toDate(addHours(toDateTime({day}, 'UTC'), {hour}), {{tz:String}})"


def stitched(trusted_only: bool, money_rules=None, *, utc: bool = True) -> str:
    """One row per visitor of the range, with the columns of the overview's raw per-visitor
    timeline: `trusted`, `pageviews`, `sessions`, `bounces`, `session_ms`, `days` (distinct
    days in tz), `pv_days`/`pv_counts` (pageviews per day in tz), `buys` ((order id, day in
    tz, revenue) of its counted purchases). `utc`: the tz is UTC (a fragment's day is its
    only day); otherwise tz must be `hour_aligned` and days come from the hours.

    Sums of the fragments' figures are plain aggregates; only visitors with fragments of
    more than one day pay for the stitching, which corrects them where adjacent fragments
    join: one session fewer, the gap added, and the bounces of the joined boundary sessions
    judged again (laid out in order with a "continues" flag and cut as a timeline is)."""
    trusted = f"toUInt8(visitor NOT IN ({_sql.UNTRUSTED_KEYS}))" if trusted_only else "toUInt8(1)"
    carry = ", ".join(f"{c} AS f_{c}" for c in _CARRY)
    if utc:
        carry += ", [day] AS f_days, if(pageviews > 0, [day], []) AS f_pv_days, if(pageviews > 0, [toUInt64(pageviews)], []) AS f_pv_counts"
    else:
        carry += (f", arrayDistinct(arrayMap(h -> {_tz_day('day', 'h')}, arrayFilter(h -> bitTest(hours, h), range(24)))) AS f_days,"
                  f" arrayMap(h -> {_tz_day('day', 'h')}, pv_hours) AS f_pv_days, arrayMap(c -> toUInt64(c), pv_counts) AS f_pv_counts")
    return f"""
    SELECT visitor, {trusted} AS trusted, pageviews,
           toInt64(all_sessions) - joined AS sessions, all_ms + gap_ms AS session_ms, toInt64(all_bounces) + bounce_fix AS bounces,
           days, pv_days, pv_counts, buys
    FROM (
        SELECT visitor,
               sumIf(f_pageviews, j = 1) AS pageviews, sumIf(f_sessions, j = 1) AS all_sessions,
               sumIf(f_session_ms, j = 1) AS all_ms, sumIf(f_bounces, j = 1) AS all_bounces,
               arraySort(f -> f.1, groupArrayIf((f_first_ms, f_last_ms, f_sessions, f_first_pv, f_first_eng, f_last_pv, f_last_eng), j = 1)) AS fr,
               arrayMap((f, i) -> if(i = 1, toInt64(0), f.1 - fr[i - 1].2), fr, arrayEnumerate(fr)) AS gaps,
               arrayMap((g, i) -> toUInt8(i > 1 AND g <= {_sql.SESSION_GAP_MS}), gaps, arrayEnumerate(fr)) AS joins,
               arraySum(joins) AS joined,
               if(joined = 0, 0, arraySum((g, m) -> if(m = 1, g, 0), gaps, joins)) AS gap_ms,
               if(joined = 0, 0,
                  arrayCount(s -> arraySum(x -> x.1, s) = 1 AND arrayMax(x -> x.2, s) = 0,
                             arraySplit(x -> x.3 = 1, arrayFlatten(arrayMap((f, m) -> if(f.3 > 1, [(f.4, f.5, toUInt8(1 - m)), (f.6, f.7, toUInt8(1))],
                                                                                          [(f.4, f.5, toUInt8(1 - m))]), fr, joins))))
                  - arraySum(f -> toInt64(f.4 = 1 AND f.5 = 0) + if(f.3 > 1, toInt64(f.6 = 1 AND f.7 = 0), 0), fr)) AS bounce_fix,
               arrayDistinct(groupArrayArrayIf(f_days, j = 1)) AS days,
               groupArrayArrayIf(f_pv_days, j = 1) AS pv_days,
               groupArrayArrayIf(f_pv_counts, j = 1) AS pv_counts,
               groupArrayIf((order_id, toDate(fromUnixTimestamp64Milli(ms, 'UTC'), {{tz:String}}), toFloat64(revenue)),
                            type = 'purchase' AND order_id != '') AS buys
        FROM ({rows(money_rules, carry)})
        GROUP BY visitor
    )"""
