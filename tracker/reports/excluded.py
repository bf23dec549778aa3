"""`excluded`: how many visitors `traffic=trusted` leaves out of a range, and why.

For marketers: the counts behind every report's `excluded_visitors`, broken down by the trust
wing's stable reason codes — never the visitors themselves. How the query works: the range's
untrusted set (`trust.live`: every visitor whose score is at or below the threshold, with its
reasons, computed once per range and reused while the range's data is unchanged — the same set
every trusted report leaves out) is counted, and its reason arrays are summed with `sumMap` in
the same pass. The `traffic` parameter does not apply: this report is about the excluded, and
its answer always says `traffic: trusted` (the rule whose exclusions it counts). A visitor with two
reasons counts under both, so `by_reason` may add up to more than `excluded_visitors`.
"""

from __future__ import annotations

from tracker.reports import _sql
from tracker.reports.figures import ratio
from tracker.reports.params import NoParams
from tracker.reports.runner import Context

Params = NoParams


SQL = """
    SELECT count() AS excluded_visitors,
           sumMap(reasons, arrayMap(r -> toUInt64(1), reasons)) AS by_reason
    FROM trust_sets
    WHERE site = {site:String} AND set_id = {tt_set:UInt64}
"""


def shape(excluded_visitors: int, codes: list[str], counts: list[int]) -> list[dict]:
    """Reason codes with their visitor counts and share of the excluded, most common first."""
    rows = sorted(zip(codes, counts), key=lambda kv: (-kv[1], kv[0]))
    return [{"reason": r, "visitors": int(n), "share": ratio(n, excluded_visitors) or 0.0} for r, n in rows]


def excluded_sql(filters=()) -> str:
    """SQL, narrowed to the visitors of the matching sessions when filtered."""
    if not filters:
        return SQL
    return SQL + f"      AND cityHash64(vid) IN (SELECT visitor FROM ({_sql.matching_sessions(filters)}))\n"


def run(ctx: Context, params: Params) -> dict:
    row = ctx.storage.query(excluded_sql(ctx.scope.filters), ctx.bind(), what="excluded traffic report").first() or {}
    total = int(row.get("excluded_visitors") or 0)
    codes, counts = row.get("by_reason") or ([], [])
    return {"excluded_visitors": total, "by_reason": shape(total, list(codes), list(counts))}
