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
applied at report time, `revenue.events`). Two fragments of a visitor share a session only
across midnight, when the later one starts at most 30 minutes after the earlier one ended;
the overview (`overview_rollup`) adds the fragments up and corrects only those few. Days in
the report's tz come from the hours: exact whenever every UTC hour of the range falls on one
tz day (`hour_aligned`: whole-hour offsets; otherwise the report reads raw events).

The same build writes the day's session parts (`session_parts`: one row per session within the
day, for sources, campaigns, devices and paths) under the same `computed_at`, so one coverage
row covers both tables.

Coverage. The build (`build_day`, run by the trust job right after it merges closed days)
counts the window's stored rows first (not FINAL: a merge that drops a duplicate changes the
count too) and records the count in `session_coverage`; a report treats a window as covered
only while that count is still its count (`bind_coverage`), so a late event, an import or an
erasure sends the day back to raw events until the next tick rebuilds it. A window is a whole
closed day, or today's prefix up to a couple of minutes ago (`refresh_today`, rebuilt every
10 minutes): its end (`upto`) is then a seam like midnight (`edge`). The rest of today,
partial days at the range's edges (a tz other than UTC) and stale days are cut live by the
same SQL over raw events (`LIVE`, `UNCOVERED`), so a report is one union whatever is covered.
"""

from __future__ import annotations

import logging
import threading
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
                     "first_pv", "first_eng", "last_pv", "last_eng", "hours", "pv_hours", "pv_counts", "purchases")


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
           hours, pvh.1 AS pv_hours, pvh.2 AS pv_counts, purchases
    FROM (
        SELECT {_sql.VISITOR} AS visitor, toDate(ts) AS day, any(vid) AS any_vid,
               arraySort(groupArray(toUInt64(toUnixTimestamp64Milli(ts)) * 4 + 2 * toUInt8({_sql.IS_ENGAGEMENT}) + (type = 'pageview'))) AS keys,
               toUInt32(groupBitOr(bitShiftLeft(toUInt32(1), toHour(ts)))) AS hours,
               sumMapIf([toUInt8(toHour(ts))], [toUInt32(1)], type = 'pageview') AS pvh,
               groupArrayIf((event_id, order_id, revenue, toString(currency), toString(coupon), toInt64(toUnixTimestamp64Milli(ts))),
                            type = 'purchase') AS purchases
        FROM events FINAL
        WHERE site = {{site:String}} AND {where}
        GROUP BY visitor, day
    )"""


_COLUMNS = ", ".join(_FRAGMENT_COLUMNS)

# One build covers the window [{lo}, {hi}) of one UTC day: the whole day once it is closed, or
# today's prefix up to a watermark (`refresh_today`).
WINDOW = "ts >= {lo:DateTime64(3, 'UTC')} AND ts < {hi:DateTime64(3, 'UTC')}"

_BUILD = f"""
    INSERT INTO session_days (site, computed_at, {_COLUMNS})
    SELECT {{site:String}}, {{computed_at:DateTime64(3, 'UTC')}}, {_COLUMNS}
    FROM ({fragments_sql(WINDOW)})
"""

# A window's stored rows (not FINAL: a merge that drops a duplicate changes it, and so does any
# insert or deletion): what a build records and what a report checks its coverage by.
_COUNT = "SELECT count() FROM events WHERE site = {site:String} AND " + WINDOW

_STALE = """
    SELECT e.site AS site, e.day AS day
    FROM (
        SELECT site, toDate(ts) AS day, count() AS raw
        FROM events
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


def stale_days(storage: Storage, *, site: str = "", start: datetime | None = None, end: datetime | None = None,
               now: datetime | None = None, limit: int = MAX_DAYS_PER_TICK) -> list[tuple[str, date]]:
    """Closed (site, day)s whose fragments are missing or no longer match the day's events
    (only days within [start, end) when given: UTC midnights)."""
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    oldest, closed = now - timedelta(days=storage.settings.retention_days), closed_before(now)
    params = {"site": site, "oldest": max(oldest, start) if start else oldest, "closed_before": min(closed, end) if end else closed,
              "limit": limit}
    return [(s, d) for s, d in storage.query(_STALE, params, what="finding stale session days").rows]


def build_day(storage: Storage, site: str, day: date, upto: datetime | None = None) -> int:
    """(Re)build one site-day's fragments and session parts, of the whole day or of its events
    before `upto` (naive UTC); returns the stored event count they cover."""
    lo = datetime.combine(day, datetime.min.time())
    params = {"site": site, "lo": lo, "hi": upto or lo + timedelta(days=1)}
    # Count first: rows landing after the count make the day look stale (rebuilt, read raw
    # meanwhile) rather than covering rows the fragments never saw.
    raw = int(storage.scalar(_COUNT, params, what="counting a session day") or 0)
    computed_at = datetime.now(UTC).replace(tzinfo=None)
    storage.command(_BUILD, {**params, "computed_at": computed_at}, what="building session fragments")
    from tracker.reports import session_parts  # it reads this module's coverage SQL: imported here, not at the top

    session_parts.build_day(storage, {**params, "computed_at": computed_at})
    storage.command(
        "INSERT INTO session_coverage (site, day, computed_at, raw_events, upto) "
        "VALUES ({site:String}, {day:Date}, {computed_at:DateTime64(3, 'UTC')}, {raw:UInt64}, {hi:DateTime64(3, 'UTC')})",
        {**params, "day": day, "computed_at": computed_at, "raw": raw}, what="recording session coverage")
    return raw


# Today's prefix. Events are stamped with the server's clock as they arrive, so the part of
# today older than a couple of minutes no longer changes (an import or an erasure that does
# change it changes its count: read raw until rebuilt). Building it lets a report cut live only
# the last minutes instead of the whole of today; it is rebuilt once it is REBUILD old.
LAG = timedelta(minutes=2)
REBUILD = timedelta(minutes=10)

_TODAY = """
    SELECT s.site AS site, c.upto AS upto, c.raw_events AS raw
    FROM (SELECT DISTINCT site FROM events WHERE ts >= {day:DateTime64(3, 'UTC')} AND ({site:String} = '' OR site = {site:String})) AS s
    LEFT JOIN (
        SELECT site, argMax(upto, computed_at) AS upto, argMax(raw_events, computed_at) AS raw_events
        FROM session_coverage
        WHERE day = toDate({day:DateTime64(3, 'UTC')}) AND ({site:String} = '' OR site = {site:String})
        GROUP BY site
    ) AS c ON s.site = c.site
"""


def refresh_today(storage: Storage, *, site: str = "", now: datetime | None = None) -> list[str]:
    """(Re)build today's prefix, up to LAG before `now`, for each site (or `site`) with events
    today whose prefix is missing, older than REBUILD or no longer matches its count; return
    the sites built."""
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    day = datetime(now.year, now.month, now.day)
    upto = (now - LAG).replace(second=0, microsecond=0)
    if upto <= day:
        return []
    built = []
    with _BUILDING:
        for s, have, raw in storage.query(_TODAY, {"site": site, "day": day}, what="finding today's session prefix").rows:
            have = have.replace(tzinfo=None) if have else None
            if have and have > day and have >= upto - REBUILD and have < day + timedelta(days=1):
                count = storage.scalar(_COUNT, {"site": s, "lo": day, "hi": have}, what="checking today's session prefix")
                if int(count or 0) == int(raw):
                    continue
            build_day(storage, s, day.date(), upto)
            built.append(s)
    return built


def refresh(storage: Storage, *, site: str = "", start: datetime | None = None, end: datetime | None = None,
            now: datetime | None = None, limit: int = MAX_DAYS_PER_TICK) -> list[tuple[str, date]]:
    """Build the stale closed days (of one site and range when given), newest first; return them.
    One build at a time in this process, as for trust partials: a refresh overlapping the trust
    job's tick finds the days the tick built already fresh instead of building them again."""
    with _BUILDING:
        days = stale_days(storage, site=site, start=start, end=end, now=now, limit=limit)
        for s, d in days:
            build_day(storage, s, d)
    return days


_BUILDING = threading.Lock()


# The range's coverage rows: whole UTC days, or a prefix of one (`upto`), within [start, end).
_COVERAGE = """
    SELECT day, computed_at, raw_events, upto
    FROM session_coverage FINAL
    WHERE site = {site:String}
      AND toDateTime64(day, 3, 'UTC') >= {start:DateTime64(3, 'UTC')} AND upto <= {end:DateTime64(3, 'UTC')}
    ORDER BY day
"""
# The stored rows of whole days now, per day. `events` is partitioned by `toDate(ts)`, so on one
# node a day is its partition and counting it reads no `ts` (0.04 s instead of 0.11-0.15 s for
# 30 days at 10M events); a Distributed table is counted by `ts`.
_DAY_COUNTS = """
    SELECT $day AS d, count()
    FROM events
    WHERE site = {site:String} AND has({days:Array(Date)}, $day)
    GROUP BY d
"""
_EPOCH = datetime(1970, 1, 1)


def bind_coverage(storage: Storage, params: dict) -> dict:
    """`params` plus the range's coverage, as bound arrays: {sr_cov} the (day, computed_at) of
    every window whose stored count still matches, {sr_days} the whole days among them,
    {sr_pdays}/{sr_pupto} the prefix days and where their prefix ends (epoch ms)."""
    rows = storage.query(_COVERAGE, params, what="reading session coverage").rows
    ends = {d: upto.replace(tzinfo=None) for d, _, _, upto in rows}
    whole = [d for d, end in ends.items() if end >= datetime.combine(d, datetime.min.time()) + timedelta(days=1)]
    counts: dict = {}
    if whole:
        sql = _DAY_COUNTS.replace("$day", "toDate(ts)" if storage.cluster else "_partition_value.1")
        counts = dict(storage.query(sql, {**params, "days": whole}, what="reading session coverage").rows)
    for d in ends.keys() - set(whole):  # a prefix: its window alone
        lo = datetime.combine(d, datetime.min.time())
        counts[d] = storage.scalar(_COUNT, {**params, "lo": lo, "hi": ends[d]}, what="reading session coverage")
    valid = [(d, at, ends[d]) for d, at, raw, _ in rows if int(counts.get(d) or 0) == raw]
    whole = [d for d, _, upto in valid if upto >= datetime.combine(d, datetime.min.time()) + timedelta(days=1)]
    prefix = [(d, upto) for d, _, upto in valid if d not in whole]
    return {**params, "sr_cov": [(d, at) for d, at, _ in valid], "sr_days": whole,
            "sr_pdays": [d for d, _ in prefix], "sr_pupto": [int((upto - _EPOCH).total_seconds() * 1000) for _, upto in prefix]}


def edge(first: str, last: str) -> str:
    """A fragment or part (`first`/`last`: its epoch ms columns, `day` its UTC day) that could
    share a session with a neighbour: within 30 minutes of its day's midnights, or on either
    side of its day's prefix end when the day is covered up to one ({sr_pdays}, {sr_pupto})."""
    day_ms = "toInt64(toUnixTimestamp(toDateTime(day, 'UTC'))) * 1000"
    gap = _sql.SESSION_GAP_MS
    cut = "transform(day, {sr_pdays:Array(Date)}, {sr_pupto:Array(Int64)}, toInt64(0))"
    return (f"({first} <= {day_ms} + {gap} OR {last} >= {day_ms} + 86400000 - {gap}"
            f" OR (has({{sr_pdays:Array(Date)}}, day) AND (({last} >= {cut} - {gap} AND {last} < {cut})"
            f" OR ({first} >= {cut} AND {first} <= {cut} + {gap}))))")


# Events of the range no coverage window holds: cut live.
UNCOVERED = ("ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')} AND toDate(ts) NOT IN {sr_days:Array(Date)}"
             " AND NOT (has({sr_pdays:Array(Date)}, toDate(ts))"
             " AND toUnixTimestamp64Milli(ts) < transform(toDate(ts), {sr_pdays:Array(Date)}, {sr_pupto:Array(Int64)}, toInt64(0)))")


def use_rollup(storage: Storage, scope, bind: dict, *, by_day: bool) -> tuple[dict, bool]:
    """Whether a report of `scope` reads fragments, and its bound parameters for that: only
    without filters (a filter picks sessions by dimensions fragments do not keep whole), for a
    report with days in tz (`by_day`) only when `hour_aligned`, and only when some day of the
    range is covered (otherwise the raw query is the same work)."""
    if scope.filters or (by_day and not hour_aligned(scope.tz, scope.start_ts, scope.end_ts)):
        return bind, False
    bind = bind_coverage(storage, bind)
    return bind, bool(bind["sr_cov"])


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

LIVE = fragments_sql(UNCOVERED)


def fragments() -> str:
    """Every fragment of the range (bind `bind_coverage`'s arrays)."""
    return f"SELECT {_COLUMNS} FROM ({STORED}) UNION ALL SELECT {_COLUMNS} FROM ({LIVE})"
