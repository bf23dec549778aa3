"""Materialised day partials: what keeps `traffic=trusted` cheap in every report.

A background thread (`TrustJob`: built in `Runtime.open` as `runtime.trust_job`, started with
the runtime; it also merges each closed day of events into one part, `storage.repartition`,
and then builds the closed days' session fragments, `reports.session_days`)
looks every `trust_refresh_seconds` for closed
UTC days whose partials are missing or stale — the day's event count (FINAL: each event id
once, so a background merge of duplicate copies changes nothing) differs from the one recorded
in `trust_coverage` (late import, erasure) or the partials' configuration changed — and recomputes them, newest first, a bounded number per tick.
`POST /api/trust/refresh` does the same on demand for one site and range. The two take turns
(`_REFRESHING`): each finds the stale days only once it holds the lock, so a day is computed once
even when an operator's refresh overlaps a tick (a 100M catch-up computed every day twice).

Correctness never depends on this job: readers treat a day as covered only while its count
and configuration still match, and compute everything else live (see `signals`).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tracker.errors import TrackerError
from tracker.reports import session_days
from tracker.reports.params import NoParams
from tracker.reports.runner import Context
from tracker.reports.trust.score import TrustConfig, trust_params
from tracker.reports.trust.signals import PARTIAL_COLUMNS, partials_sql
from tracker.storage.client import Storage
from tracker.storage.repartition import compact_closed_days
from tracker.storage.shards import shard_local

log = logging.getLogger(__name__)

# A day is closed once this long has passed since its end: the spool has flushed its events.
SETTLE = timedelta(minutes=5)
MAX_DAYS_PER_TICK = 31

_DAY_START = "toDateTime64({day:Date}, 3, 'UTC')"
_TRIGGER = "toDate(ts) = {day:Date}"
_CONTEXT = f"ts >= {_DAY_START} - INTERVAL 1 DAY AND ts < {_DAY_START} + INTERVAL 1 DAY"

_INSERT = f"""
    INSERT INTO visitor_signals (site, day, vid, computed_at, {", ".join(PARTIAL_COLUMNS)})
    SELECT {{site:String}}, day, vid, {{computed_at:DateTime64(3, 'UTC')}}, {", ".join(PARTIAL_COLUMNS)}
    FROM ({shard_local(partials_sql(_TRIGGER, _CONTEXT))})
"""

_STALE = """
    SELECT e.site AS site, e.day AS day, e.raw AS raw
    FROM (
        SELECT site, toDate(ts) AS day, count() AS raw
        FROM events FINAL
        WHERE ts >= {oldest:DateTime64(3, 'UTC')} AND ts < {closed_before:DateTime64(3, 'UTC')}
          AND ({site:String} = '' OR site = {site:String})
        GROUP BY site, day
    ) AS e
    LEFT JOIN (
        SELECT site, day, argMax(raw_events, computed_at) AS raw_events, argMax(config, computed_at) AS config
        FROM trust_coverage
        WHERE {site:String} = '' OR site = {site:String}
        GROUP BY site, day
    ) AS c ON e.site = c.site AND e.day = c.day
    WHERE c.raw_events != e.raw OR c.config != {tt_partials:String}
    ORDER BY e.day DESC, e.site
    LIMIT {limit:UInt32}
"""


@dataclass(frozen=True)
class StaleDay:
    site: str
    day: date
    raw: int


def _closed_before(now: datetime) -> datetime:
    """Start of the latest UTC day that ended at least SETTLE ago."""
    moment = now - SETTLE
    return datetime(moment.year, moment.month, moment.day)


def stale_days(storage: Storage, config: TrustConfig, *, site: str = "", start: datetime | None = None, end: datetime | None = None,
               now: datetime | None = None, limit: int = MAX_DAYS_PER_TICK) -> list[StaleDay]:
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    oldest = now - timedelta(days=storage.settings.evidence_retention_days)
    closed = _closed_before(now)
    if start is not None:
        oldest = max(oldest, datetime(start.year, start.month, start.day))
    if end is not None:
        closed = min(closed, datetime(end.year, end.month, end.day))  # only whole days before `end`
    params = {**trust_params(config), "site": site, "oldest": oldest, "closed_before": closed, "limit": limit}
    rows = storage.query(_STALE, params, what="finding stale trust days").rows
    return [StaleDay(s, d, int(raw)) for s, d, raw in rows]


def materialise_day(storage: Storage, config: TrustConfig, site: str, day: date) -> int:
    """Recompute one site-day's partials; returns the raw event count they cover."""
    params = {**trust_params(config), "site": site, "day": day}
    # Count first: rows landing after the count make the coverage look stale (recomputed,
    # read live meanwhile) rather than covering rows the partials never saw.
    raw = int(storage.scalar(
        "SELECT count() FROM events FINAL WHERE site = {site:String} AND toDate(ts) = {day:Date}", params, what="counting a trust day"
    ) or 0)
    computed_at = datetime.now(UTC).replace(tzinfo=None)
    storage.command(_INSERT, {**params, "computed_at": computed_at}, what="materialising trust signals")
    storage.command(
        "INSERT INTO trust_coverage (site, day, computed_at, raw_events, config) "
        "VALUES ({site:String}, {day:Date}, {computed_at:DateTime64(3, 'UTC')}, {raw:UInt64}, {tt_partials:String})",
        {**params, "computed_at": computed_at, "raw": raw},
        what="recording trust coverage",
    )
    return raw


def refresh(storage: Storage, config: TrustConfig, *, site: str = "", start: datetime | None = None, end: datetime | None = None,
            limit: int = MAX_DAYS_PER_TICK, now: datetime | None = None) -> list[StaleDay]:
    """Materialise the stale closed days (of one site and range when given); return them."""
    with _REFRESHING:
        days = stale_days(storage, config, site=site, start=start, end=end, limit=limit, now=now)
        for stale in days:
            materialise_day(storage, config, stale.site, stale.day)
    return days


_REFRESHING = threading.Lock()  # one refresh at a time in this process (see the module's doc)


Params = NoParams


def run(ctx: Context, params: Params) -> dict:
    """`POST /api/trust/refresh`: materialise the stale closed days of the scope's range now:
    their trust signals (`refreshed`), then their session fragments (`sessions`, the days
    rebuilt), the two things the background job keeps for reports. The range is read as UTC
    days (`from` to `to`, both included), whatever `tz` says."""
    scope = ctx.scope
    start = datetime.combine(scope.start, datetime.min.time())
    end = datetime.combine(scope.end, datetime.min.time()) + timedelta(days=1)
    limit = (scope.end - scope.start).days + 1
    days = refresh(ctx.storage, ctx.trust, site=scope.site, start=start, end=end, limit=limit)
    sessions = session_days.refresh(ctx.storage, site=scope.site, start=start, end=end, limit=limit)
    return {"refreshed": [{"day": d.day.isoformat(), "events": d.raw} for d in days],
            "sessions": [d.isoformat() for _, d in sessions]}


class TrustJob:
    """The background refresher: one daemon thread, stopped (and joined) before storage closes.
    `interval` <= 0 (`trust_refresh_seconds=0`) means no thread: only on-demand refreshes."""

    def __init__(self, storage: Storage, config: TrustConfig, interval: float):
        self.storage = storage
        self.config = config
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="trust-refresh", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                # Merge first: merging drops duplicate rows, which changes a day's raw count and so
                # would make the partials just computed for it stale.
                merged = compact_closed_days(self.storage)  # closed days in one part: FINAL reads them as they are
                days = refresh(self.storage, self.config)
                sessions = session_days.refresh(self.storage)  # merged closed days: their session fragments
                today = session_days.refresh_today(self.storage)  # and today's prefix, so reports cut only its last minutes
                self.runs += 1
                if days:
                    log.info("materialised trust signals of %d site-days", len(days))
                if merged:
                    log.info("merged %d closed days of events into one part each", len(merged))
                if sessions:
                    log.info("built session fragments of %d site-days", len(sessions))
                if today:
                    log.debug("built today's session prefix of %d sites", len(today))
            except TrackerError as exc:  # storage down or slow: try again next tick
                log.warning("trust refresh failed: %s", exc.message)
            except Exception:  # never let the refresher die silently
                log.exception("trust refresh failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
