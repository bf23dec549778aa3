"""`live`: the last 30 minutes, minute by minute, and the pages being viewed.

How the query works. The window is the current minute and the 29 before it, in server time
(`ts`, the event time of live traffic); it ignores `from`/`to` (the trusted rule still uses the
scope's range to find untrusted visitors, so the dashboard asks for today and yesterday).
Three small reads of the deduplicated events of the window (the `ts` minmax index keeps them
to the newest parts), through the same `_sql.events` fragment as every report, so `traffic`
and `filter` apply: totals (distinct visitors, pageviews, distinct orders and their revenue,
`_sql.ORDER_ID` / `_sql.ORDER_REVENUE`), the same per minute (zero-filled in `fill_minutes`),
and the pages viewed, by distinct visitors.

Freshness: an accepted event is on disk in the spool at once and in storage after the
flusher's next pass (`flush_interval`, 1 s by default), so the answer includes events accepted
a second or two before it; `as_of` is the server time the window ends at.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from tracker.reports import _sql, revenue
from tracker.reports.figures import money
from tracker.reports.params import Listing
from tracker.reports.runner import Context

Params = Listing
MINUTES = 30


def totals_sql(events: str, by_minute: bool) -> str:
    return f"""
    SELECT {"minute," if by_minute else ""}
           uniqExact(vid) AS visitors,
           countIf(type = 'pageview') AS pageviews,
           uniqExactIf(oid, oid != '') AS orders,
           arraySum(x -> x.2, groupUniqArrayIf((oid, orev), oid != '')) AS revenue
    FROM (
        SELECT vid, type, toStartOfMinute(ts) AS minute, {_sql.ORDER_ID} AS oid, {_sql.ORDER_REVENUE} AS orev
        FROM ({events})
    )
    {"GROUP BY minute ORDER BY minute" if by_minute else ""}"""


def pages_sql(events: str) -> str:
    return f"""
    SELECT path, uniqExact(vid) AS visitors, count() AS pageviews
    FROM ({events})
    WHERE type = 'pageview'
    GROUP BY path
    ORDER BY visitors DESC, pageviews DESC, path
    LIMIT {{limit:UInt32}}"""


def run(ctx: Context, params: Params, *, now: datetime | None = None) -> dict:
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    first = now.replace(second=0, microsecond=0) - timedelta(minutes=MINUTES - 1)
    bind = ctx.bind(start=first, end=now + timedelta(seconds=1), limit=params.limit)
    # Orders and revenue as the site counts them: confirmed orders once it has any (revenue.py).
    counting = revenue.money_of(ctx.storage, bind)
    bind.update(revenue.bind(counting))
    events = revenue.events(_sql.events(ctx.scope.trusted_only, ctx.scope.filters), counting)
    storage = ctx.storage
    total = storage.query(totals_sql(events, False), bind, what="live report").first() or {}
    minutes = storage.dicts(totals_sql(events, True), bind, what="live report")
    pages = storage.dicts(pages_sql(events), bind, what="live report")
    return {
        "as_of": now.isoformat(timespec="seconds") + "Z",
        "since": first.isoformat(timespec="seconds") + "Z",
        "visitors": int(total.get("visitors") or 0),
        "pageviews": int(total.get("pageviews") or 0),
        "orders": int(total.get("orders") or 0),
        "revenue": money(total.get("revenue")),
        "revenue_source": counting.source,
        "currency": counting.currency,
        "minutes": fill_minutes(first, minutes),
        "pages": [{"path": str(p["path"]), "visitors": int(p["visitors"]), "pageviews": int(p["pageviews"])} for p in pages],
    }


def fill_minutes(first: datetime, rows: Sequence[Mapping]) -> list[dict]:
    """One entry per minute from `first` (MINUTES of them), zeros where no event fell (pure)."""
    by_minute = {r["minute"].replace(tzinfo=None): r for r in rows}
    out = []
    for i in range(MINUTES):
        minute = first + timedelta(minutes=i)
        r = by_minute.get(minute) or {}
        out.append({"minute": minute.isoformat(timespec="minutes") + "Z", "visitors": int(r.get("visitors") or 0),
                    "pageviews": int(r.get("pageviews") or 0), "orders": int(r.get("orders") or 0), "revenue": money(r.get("revenue"))})
    return out
