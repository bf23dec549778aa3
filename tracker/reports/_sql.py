"""Shared ClickHouse fragments for reports — not a query builder, just the rules every report
must apply the same way.

- Dedup: the events table is a ReplacingMergeTree on (site, event_id); reading it with FINAL
  counts each event id once however often it was delivered.
- Range: `ts` (server time) within [start, end).
- Trusted traffic: visitors flagged as bots or fraud are excluded unless `traffic=all`.
All values are bound parameters (`runner.Context.bind`): {site:String},
{start:DateTime64(3, 'UTC')}, {end:DateTime64(3, 'UTC')} (UTC instants), {tz:String} and
{tt_set:UInt64}.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker.reports.params import Filter

# Deduplicated events of one site in the report range.
EVENTS = """
    SELECT *
    FROM events FINAL
    WHERE site = {site:String}
      AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
"""

# Visitors excluded from trusted traffic in the range: trust score <= the exclusion threshold.
# Read from the range's newest untrusted set, evaluated per (site, range, trust settings) and
# kept fresh in the background (`trust.live`); {tt_set} is resolved by the report runner before
# a report that reads it runs (`runner.run`), and never computed by it. Scores combine the
# materialised day partials that are still valid with partials computed live for the rest of
# the range, so a stale materialisation never lets a bot through (docs/architecture.md).
UNTRUSTED_VISITORS = "SELECT vid FROM trust_sets WHERE site = {site:String} AND set_id = {tt_set:UInt64}"

# Per-visitor GROUP BYs group on a 64-bit hash of the visitor id rather than the string:
# ~15% less CPU for the timeline at 10M events (a collision among a site's visitors in one range
# is about 1 in 10^7 at a million visitors, and would merge two timelines).
VISITOR = "cityHash64(vid)"

# The untrusted set as VISITOR hashes, for filtering every event of a range: probing a set of
# UInt64 costs ~40% less than probing a set of strings (0.11 vs 0.17 CPU s over 10M events).
UNTRUSTED_KEYS = f"SELECT {VISITOR} FROM trust_sets WHERE site = {{site:String}} AND set_id = {{tt_set:UInt64}}"


def events(trusted_only: bool, filters: Sequence[Filter] = ()) -> str:
    """Deduplicated, range-limited events, without untrusted visitors when asked, and only
    those of the sessions matching every filter (`session_filter`)."""
    sql = EVENTS
    if trusted_only:
        sql += f"\n      AND {VISITOR} NOT IN ({UNTRUSTED_KEYS})"
    if filters:
        sql += f"\n      AND {session_filter(filters)}"
    return sql


def trusted_visitor(trusted_only: bool) -> str:
    """A UInt8 expression on an event's `vid`: 1 when its visitor counts under this traffic
    setting. Lets a report read all events once and both count trusted visitors and the
    excluded ones (e.g. `min()` of it per visitor)."""
    if not trusted_only:
        return "toUInt8(1)"
    return f"toUInt8({VISITOR} NOT IN ({UNTRUSTED_KEYS}))"


# --- sessions ---------------------------------------------------------------------------------
# A session is one visitor's events with no gap over 30 minutes (a gap of exactly 30 minutes
# stays in the session). Sessions are cut per visitor with array functions rather than window
# functions: one GROUP BY vid collects the visitor's events as packed UInt64 keys
# (epoch ms * 2 + is_pageview), sorts that small array, and marks an event as the start of a
# session when it is the first one or comes more than SESSION_GAP_MS after the previous one.
# Measured on 10M events this is ~5x faster than lagInFrame/sum() OVER (PARTITION BY vid).
SESSION_GAP_MS = 30 * 60 * 1000

# Columns of the per-visitor timeline, for use inside `SELECT ... FROM (events) GROUP BY vid`
# where the inner query exposes `k` = packed key (see `timeline_source`):
#   keys  sorted packed keys; t: epoch ms; pv: 1 for a pageview;
#   new   1 where a session starts (the first event, or a gap over SESSION_GAP_MS).
TIMELINE = f"""
        arraySort(groupArray(k)) AS keys,
        arrayMap(x -> toInt64(intDiv(x, 2)), keys) AS t,
        arrayMap(x -> toUInt8(x % 2), keys) AS pv,
        arrayMap((gap, i) -> toUInt8(i = 1 OR gap > {SESSION_GAP_MS}), arrayDifference(t), arrayEnumerate(t)) AS new"""


def timeline_source(trusted_only: bool, extra: str = "", filters: Sequence[Filter] = ()) -> str:
    """The inner query for TIMELINE: one row per event with `visitor` (VISITOR), the packed key
    `k`, and any `extra` columns (e.g. ", if(type = 'pageview', path, '') AS p")."""
    return f"""
    SELECT {VISITOR} AS visitor, toUInt64(toUnixTimestamp64Milli(ts)) * 2 + (type = 'pageview') AS k{extra}
    FROM ({events(trusted_only, filters)})"""


def pageview_sessions(trusted_only: bool, having: str = "", filters: Sequence[Filter] = ()) -> str:
    """One row per visitor (`visitor`): `sessions` = Array(Array(UInt64)), each session's pageviews in
    time order as `cityHash64(path)` (sessions without a pageview are left out; `PATH_NAMES`
    turns hashes back into paths). Session cuts use all of the visitor's events, so a promo
    click 20 minutes after a pageview keeps the session alive. Hashes instead of strings make
    the per-visitor arrays small and fast to sort and group (a 64-bit collision between two
    paths of one site is not a practical concern). `having` keeps only visitors it holds for
    (on `pv_paths`), before their sessions are cut."""
    return f"""
    SELECT visitor, arrayFilter(s -> length(s) > 0, arraySplit((p, d) -> d != 0, pv_paths, arrayDifference(pv_sess))) AS sessions
    FROM (
        SELECT visitor, {TIMELINE},
            arraySort((x, key) -> key, groupArray(p), groupArray(k)) AS paths,
            arrayFilter((x, f) -> f = 1, paths, pv) AS pv_paths,
            arrayFilter((s, f) -> f = 1, arrayCumSum(new), pv) AS pv_sess
        FROM ({timeline_source(trusted_only, ", if(type = 'pageview', cityHash64(path), 0) AS p", filters)})
        GROUP BY visitor
        HAVING length(pv_paths) > 0{f" AND ({having})" if having else ""}
    )"""


# Path hash -> path for the site's pageviews in the range (names only: no FINAL needed).
PATH_NAMES = """
    SELECT cityHash64(path) AS h, any(path) AS name
    FROM events
    WHERE site = {site:String}
      AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
      AND type = 'pageview'
    GROUP BY h"""


# --- engagement, money, session attributes, filters ---------------------------------------------
# A bounce is a session with exactly one pageview and none of these (CONTRACT §3); a promo
# merely scrolled into view (`promo_view`) is not engagement.
ENGAGEMENT = ("promo_click", "add_to_cart", "checkout", "purchase", "custom")
IS_ENGAGEMENT = "type IN ('" + "', '".join(ENGAGEMENT) + "')"

# Money, in one place: an order is a `purchase` event's order id, counted once however often it
# was sent (distinct ids), worth the revenue it carried. Every report that shows orders or
# revenue reads them through these two per-event expressions (confirmed orders from the shop's
# backend, CONTRACT §9, swap in here).
ORDER_ID = "if(type = 'purchase', order_id, '')"
ORDER_REVENUE = "toFloat64(if(type = 'purchase', revenue, 0))"

# The site's own hosts (from its registered origins): a referrer from one of them is internal
# navigation, not a source.
OWN_HOSTS = "SELECT arrayJoin(arrayMap(o -> domain(o), origins)) FROM sites WHERE site = {site:String}"


def sessions(base: str) -> str:
    """One row per session of the events of `base` (any query over the events' columns, such as
    `events(...)`), with the session's dimensions and measures:

    - `visitor` (VISITOR), `t` (its events' epoch ms, in order), `start_ms`;
    - from its first event: `utm_source`, `utm_medium`, `utm_campaign` (the tags of an event at
      the session's first instant, as `campaigns` credits them), `device`, `browser`, `os`;
    - `source`: `utm_source`, else the referrer host of the first pageview unless it is the
      page's own host or one of the site's (`OWN_HOSTS`), else '(direct)';
    - `entry`: the path of the first pageview ('' without one); `pages`: paths viewed;
    - `pageviews`, `bounced` (one pageview, no ENGAGEMENT event), `buys` (distinct
      (order id, revenue) pairs of its purchases).

    How: one GROUP BY visitor gathers the visitor's events as tuples sorted by time, cut into
    sessions where the gap to the previous event is over SESSION_GAP_MS (`arraySplit`), then
    ARRAY JOINed to a row per session."""
    return f"""
    SELECT visitor, s,
           arrayMap(e -> e.1, s) AS t,
           s[1].1 AS start_ms,
           arrayFirst(e -> e.1 = start_ms AND (e.3 != '' OR e.4 != '' OR e.5 != ''), s) AS touch,
           touch.3 AS utm_source, touch.4 AS utm_medium, touch.5 AS utm_campaign,
           arrayFirst(e -> e.2 = 'pageview', s) AS landing,
           multiIf(utm_source != '', utm_source, landing.6 != '', landing.6, '(direct)') AS source,
           landing.7 AS entry,
           s[1].8 AS device, s[1].9 AS browser, s[1].10 AS os,
           arrayMap(e -> e.7, arrayFilter(e -> e.2 = 'pageview', s)) AS pages,
           length(pages) AS pageviews,
           toUInt8(pageviews = 1 AND NOT arrayExists(e -> e.11 = 1, s)) AS bounced,
           arrayDistinct(arrayMap(e -> (e.12, e.13), arrayFilter(e -> e.12 != '', s))) AS buys
    FROM (
        SELECT visitor,
               arraySplit((e, gap, i) -> i = 1 OR gap > {SESSION_GAP_MS}, evs, arrayDifference(arrayMap(e -> e.1, evs)), arrayEnumerate(evs)) AS visits
        FROM (
            SELECT {VISITOR} AS visitor,
                   arraySort(groupArray((
                       toInt64(toUnixTimestamp64Milli(ts)), toString(type),
                       toString(utm_source), toString(utm_medium), toString(utm_campaign),
                       if(type = 'pageview' AND ref_host != '' AND ref_host != host AND ref_host NOT IN ({OWN_HOSTS}), toString(ref_host), ''),
                       toString(path), toString(ua_device), toString(ua_browser), toString(ua_os),
                       toUInt8({IS_ENGAGEMENT}), {ORDER_ID}, {ORDER_REVENUE}))) AS evs
            FROM ({base})
            GROUP BY visitor
        )
    )
    ARRAY JOIN visits AS s"""


# `filter=DIM:VALUE` -> a condition on a `sessions` row; the value is the bound {f<i>}.
FILTER_CONDITIONS = {
    "source": "source = {{f{i}:String}}",
    "utm_medium": "utm_medium = {{f{i}:String}}",
    "utm_campaign": "utm_campaign = {{f{i}:String}}",
    "entry": "entry = {{f{i}:String}}",
    "device": "device = {{f{i}:String}}",
    "browser": "browser = {{f{i}:String}}",
    "os": "os = {{f{i}:String}}",
    "page": "has(pages, {{f{i}:String}})",
}


def matching_sessions(filters: Sequence[Filter]) -> str:
    """The sessions of the range (all traffic: the trusted rule is per visitor and applied
    by the caller) that match every filter, as `sessions` rows."""
    conditions = " AND ".join(FILTER_CONDITIONS[f.dim].format(i=i) for i, f in enumerate(filters))
    return f"SELECT * FROM ({sessions(EVENTS)}) WHERE {conditions}"


def session_filter(filters: Sequence[Filter]) -> str:
    """A condition on an event row: it belongs to a session that matches every filter. The
    matching sessions' (visitor, event ms) pairs form the set; an event's pair is in it exactly
    when its session matched (two events of a visitor at one millisecond share a session).
    Keeping or dropping whole sessions leaves the remaining sessions as they were, so a report
    cutting sessions again over the kept events finds the same ones."""
    return f"({VISITOR}, toInt64(toUnixTimestamp64Milli(ts))) IN (SELECT visitor, arrayJoin(t) FROM ({matching_sessions(filters)}))"
