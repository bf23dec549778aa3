"""Shared ClickHouse fragments for reports — not a query builder, just the rules every report
must apply the same way.

- Dedup: the events table is a ReplacingMergeTree on (site, event_id); reading it with FINAL
  counts each event id once however often it was delivered.
- Range: `ts` (server time) within [start, end).
- Trusted traffic: visitors flagged as bots or fraud are excluded unless `traffic=all`.
All values are bound parameters (`runner.Context.bind`): {site:String},
{start:DateTime64(3, 'UTC')}, {end:DateTime64(3, 'UTC')} (UTC instants), {tz:String} and
{tt_set:UInt64}.

On a cluster every per-visitor level (a GROUP BY visitor and what it computes row by row)
runs on each shard over its own visitors (`tracker.storage.shards`): the fragments read the
events and the untrusted set as `local(...)` tables, and the levels built here (`sessions`,
`pageview_sessions`) and in the reports are marked `shard_local`. What adds visitors up stays
outside, so it sees the same per-visitor rows on one node and on a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracker.storage.shards import local, shard_local

if TYPE_CHECKING:
    from tracker.reports.params import Filter

# Deduplicated events of one site in the report range.
EVENTS = f"""
    SELECT *
    FROM {local("events")} FINAL
    WHERE site = {{site:String}}
      AND ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}}
"""

# The same rows of the `purchases` table (migration 083: the purchase rows of events, kept apart
# by a materialized view, same columns and dedup): for a read that wants purchases only.
PURCHASES = EVENTS.replace(f'FROM {local("events")} FINAL', f'FROM {local("purchases")} FINAL')


# ... and of the `promo_events` table (migration 091: the promo views and clicks of events).
PROMOS = EVENTS.replace(f'FROM {local("events")} FINAL', f'FROM {local("promo_events")} FINAL')
PROMO_TYPES = "type IN ('promo_view', 'promo_click')"


def promo_rows(base: str) -> str:
    """The promo views and clicks of `base` (an events query), read from `promo_events` the way
    `purchase_rows` reads purchases: ~1 row in 6 of a shop's range instead of a scan of all of it."""
    if base.startswith(EVENTS):
        return PROMOS + base[len(EVENTS):] + f"\n      AND {PROMO_TYPES}"
    return f"SELECT * FROM ({base}) WHERE {PROMO_TYPES}"


def purchase_rows(base: str) -> str:
    """The purchase rows of `base` (an events query). An `events(...)` query (the range, and
    its trust and filter conditions) is read from `purchases` with the same conditions: ~1 row
    in 100 of the range instead of a scan of all of it (`events` is sorted by event id, so a
    type filter skips nothing there). Any other base is filtered as it is."""
    if base.startswith(EVENTS):
        return PURCHASES + base[len(EVENTS):] + "\n      AND type = 'purchase'"
    return f"SELECT * FROM ({base}) WHERE type = 'purchase'"


# Visitors excluded from trusted traffic in the range: trust score <= the exclusion threshold.
# Read from the range's newest untrusted set, evaluated per (site, range, trust settings) and
# kept fresh in the background (`trust.live`); {tt_set} is resolved by the report runner before
# a report that reads it runs (`runner.run`), and never computed by it. Scores combine the
# materialised day partials that are still valid with partials computed live for the rest of
# the range, so a stale materialisation never lets a bot through (docs/architecture.md).
UNTRUSTED_VISITORS = f"SELECT vid FROM {local('trust_sets')} WHERE site = {{site:String}} AND set_id = {{tt_set:UInt64}}"

# Per-visitor GROUP BYs group on a 64-bit hash of the visitor id rather than the string:
# ~15% less CPU for the timeline at 10M events (a collision among a site's visitors in one range
# is about 1 in 10^7 at a million visitors, and would merge two timelines).
VISITOR = "cityHash64(vid)"

# The untrusted set as VISITOR hashes, for filtering every event of a range: probing a set of
# UInt64 costs ~40% less than probing a set of strings (0.11 vs 0.17 CPU s over 10M events).
UNTRUSTED_KEYS = f"SELECT {VISITOR} FROM {local('trust_sets')} WHERE site = {{site:String}} AND set_id = {{tt_set:UInt64}}"


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


def timeline_source(trusted_only: bool, extra: str = "", filters: Sequence[Filter] = (), base: str = "") -> str:
    """The inner query for TIMELINE: one row per event with `visitor` (VISITOR), the packed key
    `k`, and any `extra` columns (e.g. ", if(type = 'pageview', path, '') AS p"), read from
    `base` (default `events(trusted_only, filters)`; the overview passes it through
    `revenue.events`)."""
    return f"""
    SELECT {VISITOR} AS visitor, toUInt64(toUnixTimestamp64Milli(ts)) * 2 + (type = 'pageview') AS k{extra}
    FROM ({base or events(trusted_only, filters)})"""


def pageview_sessions(trusted_only: bool, having: str = "", filters: Sequence[Filter] = ()) -> str:
    """One row per visitor (`visitor`): `sessions` = Array(Array(UInt64)), each session's pageviews in
    time order as `cityHash64(path)` (sessions without a pageview are left out; `PATH_NAMES`
    turns hashes back into paths). Session cuts use all of the visitor's events, so a promo
    click 20 minutes after a pageview keeps the session alive. Hashes instead of strings make
    the per-visitor arrays small and fast to sort and group (a 64-bit collision between two
    paths of one site is not a practical concern). `having` keeps only visitors it holds for
    (on `pv_paths`), before their sessions are cut. Shard-local on a cluster."""
    return shard_local(f"""
    SELECT visitor, arrayFilter(s -> length(s) > 0, arraySplit((p, d) -> d != 0, pv_paths, arrayDifference(pv_sess))) AS sessions
    FROM (
        SELECT visitor, {TIMELINE},
            arraySort((x, key) -> key, groupArray(p), groupArray(k)) AS paths,
            arrayFilter((x, f) -> f = 1, paths, pv) AS pv_paths,
            arrayFilter((s, f) -> f = 1, arrayCumSum(new), pv) AS pv_sess
        FROM ({timeline_source(trusted_only, ", if(type = 'pageview', cityHash64(path), 0) AS p", filters)})
        GROUP BY visitor
        HAVING length(pv_paths) > 0{f" AND ({having})" if having else ""}
    )""")


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


# The range's user agents (as `cityHash64(ua)`) with the device, browser and OS parsed from
# them at ingest (functions of the agent string alone, `ingest.useragent.parse_agent`), as one
# constant tuple of arrays for `transform`: a session names its first event's agent through it.
# Gathering each visitor's distinct (agent, names) tuples instead cost ~1.6 of the sources
# report's ~4 s at 10M events; this scan of the range costs ~0.2 s. On a cluster it reads the
# Distributed table: a scalar subquery is evaluated once, by the initiator, for every shard.
AGENT_NAMES = f"""
    SELECT (groupArray(h), groupArray(d), groupArray(b), groupArray(o))
    FROM (
        SELECT cityHash64(ua) AS h, any(toString(ua_device)) AS d, any(toString(ua_browser)) AS b, any(toString(ua_os)) AS o
        FROM events
        WHERE site = {{site:String}}
          AND ts >= {{start:DateTime64(3, 'UTC')}} AND ts < {{end:DateTime64(3, 'UTC')}}
        GROUP BY h
    )"""


def sessions(base: str) -> str:
    """One row per session of the events of `base` (any query over the events' columns, such as
    `events(...)`), with the session's dimensions and measures:

    - `visitor` (VISITOR), `t` (its events' epoch ms, in order), `start_ms`;
    - from its first event: `utm_source`, `utm_medium`, `utm_campaign` (the tags of an event at
      the session's first instant, as `campaigns` credits them), `device`, `browser`, `os`;
    - `source`: `utm_source`, else the referrer host of the first pageview unless it is the
      page's own host or one of the site's (`OWN_HOSTS`), else '(direct)';
    - `entry`: the cityHash64 of the first pageview's path (0 without one); `pages`: the
      hashes of the paths viewed (filters compare hashes of their values);
    - `pageviews`, `bounced` (one pageview, no ENGAGEMENT event), `buys` (distinct
      (order id, revenue) pairs of its purchases).

    How: one GROUP BY visitor. Only one array holds every event: packed UInt64 keys (epoch ms
    * 4 + 2 * engagement + pageview), sorted and cut into sessions where the gap to the
    previous event is over SESSION_GAP_MS, as the other reports cut them. What a session's
    dimensions need comes in small side arrays keyed by time: the user agent of each event as a
    hash (its names looked up in the range's agents, `AGENT_NAMES`), the pageviews' path
    hashes, and only the few events with UTM tags, an outside referrer or a purchase carry
    strings. A session's first event is the one at its first millisecond. ARRAY JOIN then
    gives a row per session. (Tuples of every event's strings, sorted, were 3-5x slower.)
    Shard-local on a cluster: each shard cuts its own visitors' sessions."""
    return shard_local(f"""
    WITH ({AGENT_NAMES}) AS agent_names
    SELECT visitor,
           arrayMap(x -> toInt64(intDiv(x, 4)), visit) AS t,
           t[1] AS start_ms, t[-1] AS end_ms,
           arrayFirst(x -> x.1 = start_ms, tags) AS touch,
           touch.2 AS utm_source, touch.3 AS utm_medium, touch.4 AS utm_campaign,
           arrayFilter((x, i) -> visit[i] % 2 = 1, t, arrayEnumerate(t)) AS pv_times,
           if(length(pv_times) > 0, arrayFirst(r -> r.1 = pv_times[1], refs).2, '') AS landing_ref,
           multiIf(utm_source != '', utm_source, landing_ref != '', landing_ref, '(direct)') AS source,
           arrayMap(v -> v.2, arrayFilter(v -> v.1 >= start_ms AND v.1 <= end_ms, views)) AS pages,
           if(length(pv_times) > 0, arrayFirst(v -> v.1 = pv_times[1], views).2, 0) AS entry,
           arrayFirst(a -> a.1 = start_ms, agents).2 AS agent,
           transform(agent, agent_names.1, agent_names.2, '') AS device,
           transform(agent, agent_names.1, agent_names.3, '') AS browser,
           transform(agent, agent_names.1, agent_names.4, '') AS os,
           length(pv_times) AS pageviews,
           toUInt8(pageviews = 1 AND NOT arrayExists(x -> intDiv(x, 2) % 2 = 1, visit)) AS bounced,
           arrayDistinct(arrayMap(b -> (b.2, b.3), arrayFilter(b -> b.1 >= start_ms AND b.1 <= end_ms, orders))) AS buys
    FROM (
        SELECT {VISITOR} AS visitor,
               arraySort(groupArray(toUInt64(t_ms) * 4 + 2 * engaged + (type = 'pageview'))) AS keys,
               arraySplit((x, i) -> i = 1 OR intDiv(x, 4) - intDiv(keys[i - 1], 4) > {SESSION_GAP_MS}, keys, arrayEnumerate(keys)) AS visits,
               groupArrayIf((t_ms, toString(utm_source), toString(utm_medium), toString(utm_campaign)),
                            utm_source != '' OR utm_medium != '' OR utm_campaign != '') AS tags,
               groupArrayIf((t_ms, toString(ref_host)), type = 'pageview' AND ref_host != '' AND ref_host != host AND ref_host NOT IN ({OWN_HOSTS})) AS refs,
               groupArrayIf((t_ms, cityHash64(path)), type = 'pageview') AS views,
               groupArray((t_ms, cityHash64(ua))) AS agents,
               groupArrayIf((t_ms, oid, orev), oid != '') AS orders
        FROM (
            SELECT *, toInt64(toUnixTimestamp64Milli(ts)) AS t_ms, toUInt8({IS_ENGAGEMENT}) AS engaged,
                   {ORDER_ID} AS oid, {ORDER_REVENUE} AS orev
            FROM ({base})
        )
        GROUP BY visitor
    )
    ARRAY JOIN visits AS visit""")


# `filter=DIM:VALUE` -> a condition on a `sessions` row; the value is the bound {f<i>}.
FILTER_CONDITIONS = {
    "source": "source = {{f{i}:String}}",
    "utm_medium": "utm_medium = {{f{i}:String}}",
    "utm_campaign": "utm_campaign = {{f{i}:String}}",
    "entry": "entry = cityHash64({{f{i}:String}})",
    "device": "device = {{f{i}:String}}",
    "browser": "browser = {{f{i}:String}}",
    "os": "os = {{f{i}:String}}",
    "page": "has(pages, cityHash64({{f{i}:String}}))",
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
