"""Shared ClickHouse fragments for reports — not a query builder, just the rules every report
must apply the same way.

- Dedup: the events table is a ReplacingMergeTree on (site, event_id); reading it with FINAL
  counts each event id once however often it was delivered.
- Range: `ts` (server time) within [start, end).
- Trusted traffic: visitors flagged as bots or fraud are excluded unless `traffic=all`.
All values are bound parameters: {site:String}, {start:DateTime64(3)}, {end:DateTime64(3)}.
"""

from __future__ import annotations

# Deduplicated events of one site in the report range.
EVENTS = """
    SELECT *
    FROM events FINAL
    WHERE site = {site:String}
      AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
"""

# Visitors excluded from trusted traffic in the range. (The trust wing replaces the rule with
# its score; until then: a bot user agent on any of the visitor's events.)
UNTRUSTED_VISITORS = """
    SELECT DISTINCT vid
    FROM events FINAL
    WHERE site = {site:String}
      AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
      AND ua_is_bot = 1
"""


def events(trusted_only: bool) -> str:
    """Deduplicated, range-limited events, without untrusted visitors when asked."""
    if not trusted_only:
        return EVENTS
    return EVENTS + f"\n      AND vid NOT IN ({UNTRUSTED_VISITORS})"


def excluded_visitors_sql() -> str:
    return f"SELECT count() FROM ({UNTRUSTED_VISITORS})"
