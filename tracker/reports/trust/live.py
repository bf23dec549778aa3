"""Untrusted-visitor sets kept fresh in the background: `traffic=trusted` never waits for trust.

Why. Whether a visitor is trusted depends on the whole report range (sums over its days, cookie
churn and shared coupons across visitors), so the set of excluded visitors belongs to a
(site, range, trust settings) triple. Computing it is a pass over every visitor's day partials
(seconds at 10M events), a report's own work well under a second. When every flush changed a
range's data and every trusted report recomputed its set inline, trusted reports on a live shop
cost four to five times their all-traffic twins.

How. `LiveTrust` (one per process: `runtime.trust_sets`) keeps, for each range that reports ask
for (and the dashboard's default ranges of every site), the newest *evaluation*: a set of
untrusted visitors in the `trust_sets` table under a random `set_id`, and its `as_of` time.
A report reads the newest evaluation as it is (`verdicts`): `vid NOT IN (SELECT vid FROM
trust_sets WHERE site = .. AND set_id = ..)` (`_sql.UNTRUSTED_VISITORS`) — a few milliseconds,
never an evaluation. Only the very first ask of a range nobody asked before waits for that
range's first evaluation (once per process; the dashboard's default ranges are evaluated at
start so a dashboard never waits).

A background thread re-evaluates a range when its data changed: after each flush (the flusher
calls `notify_flushed`) and every RECHECK_SECONDS regardless (late imports, erasures, the
promotions registry), it compares a *fingerprint* of everything the rule reads with the one
taken before the range's current set was computed:
- the events of the site from a day before the range to its end (the rule looks one day
  back): their count and the sum of their timestamps;
- the site's promotions registry rows (their coupons are exempt from `coupon_shared`);
- the site's order confirmations and how many of the range's purchases are past the grace
  period (the money reasons of `trust/revenue.py`; `POST /api/orders` wakes the check like a
  flush does), and the site's registry row (its manual `revenue_ceiling`);
- the trust settings: part of the key.
Unchanged: the set is still exact and only its `as_of` advances. Changed: the range is
re-evaluated with the very same SQL a from-scratch evaluation runs (`score.VISITOR_SCORES`),
at most once every `interval` seconds a range (stretched to twice its last evaluation, within
the lag budget), on one thread of ClickHouse so that reports and ingest keep the other core. Which visitors are untrusted is therefore always exactly today's
rule applied to the data up to `as_of`; for a range that ended before `as_of` it is exact.

`as_of` (`trust_as_of` in every trusted answer) is a time up to which every accepted event was
in storage when the fingerprint was taken: the time of the check when this process's spool had
nothing waiting, else the receive time of the newest stored event of the site. It lags the
newest accepted event by about the spacing + one evaluation + one flush (LAG_BUDGET, 45 s, at
most while an evaluation takes under 15 s; the contract allows 60).

Superseded sets stay readable RETIRE_SECONDS for reports still running on them, then are
dropped (one partition each); `close` drops the process's sets and a one-day TTL clears any
left by a server that stopped without closing.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tracker.errors import TrackerError
from tracker.reports.trust.score import VISITOR_SCORES, TrustConfig, trust_params
from tracker.reports.trust.signals import bind_coverage
from tracker.storage.client import Storage

log = logging.getLogger(__name__)

MAX_RANGES = 64  # ranges kept fresh per process (least recently asked go first)
KEEP_SECONDS = 15 * 60.0  # a range nobody asked for this long is no longer kept fresh
RECHECK_SECONDS = 30.0  # fingerprint check without a flush: imports, erasures, the registry
RETIRE_SECONDS = 120.0  # how long a superseded set stays readable for reports still running on it
# Live events are stored at their receive time: a flush can change only ranges ending after
# now minus this (a range that ended earlier changes by imports and erasures: RECHECK_SECONDS).
LIVE_REACH = timedelta(hours=1)
TICK_SECONDS = 1.0
LAG_BUDGET = 45.0  # spacing + one evaluation stay under this (the contract allows 60 s of lag)  # the background loop's pace when no flush wakes it
DEFAULT_DAYS = 30  # the dashboard's default range (tracker.dashboard.pages.DEFAULT_PRESET)
# Background evaluations leave the other core to reports and ingest (first asks use all).
BACKGROUND = {"max_threads": 1}

FINGERPRINT = """
    SELECT
        (SELECT (count(), sum(toUnixTimestamp64Milli(ts)),
                 countIf(type = 'purchase' AND ts < now64(3) - toIntervalMillisecond({tt_orders_grace_ms:UInt64}))) FROM events
         WHERE site = {site:String}
           AND ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 1 DAY AND ts < {end:DateTime64(3, 'UTC')}) AS e,
        (SELECT (count(), max(updated_at)) FROM promos WHERE site = {site:String}) AS p,
        -- trust/revenue.py: a new confirmation, or a purchase passing the grace period unconfirmed
        (SELECT (count(), max(version)) FROM orders WHERE site = {site:String}) AS o,
        -- revenue_outlier: the site's manual revenue ceiling (`tracker site set`)
        (SELECT max(updated_at) FROM sites WHERE site = {site:String}) AS c
"""

# The receive time of the site's newest stored event (live events are stored with ts = their
# receive time, so the last day's parts are enough).
NEWEST = """
    SELECT max(received_at) FROM events
    WHERE site = {site:String} AND ts >= {now:DateTime64(3, 'UTC')} - INTERVAL 1 DAY
"""

FILL = f"""
    INSERT INTO trust_sets (site, set_id, vid, score, reasons)
    SELECT {{site:String}}, {{set_id:UInt64}}, vid, score, reasons
    FROM ({VISITOR_SCORES})
    WHERE score <= {{threshold:UInt8}}
"""


@dataclass(frozen=True)
class Verdicts:
    """One evaluation of a range: its untrusted set and the time trust was evaluated up to."""

    set_id: int
    as_of: datetime  # naive UTC


@dataclass
class _Range:
    site: str
    start: datetime
    end: datetime
    config: TrustConfig
    pinned: bool = False  # a dashboard default: kept fresh whether asked or not
    current: Verdicts | None = None
    fingerprint: tuple | None = None
    asked_at: float = field(default_factory=time.monotonic)
    checked_at: float = 0.0
    evaluated_at: float = 0.0
    took: float = 0.0  # seconds the last evaluation took
    flushes_seen: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)  # one evaluation at a time

    def params(self) -> dict[str, Any]:
        return {"site": self.site, "start": self.start, "end": self.end, **trust_params(self.config)}


class LiveTrust:
    """The evaluations of one storage (one process's view of one database).

    `interval`: least seconds between two evaluations of one range (`trust_live_seconds`);
    `pending`: whether this process's spool holds events not yet in storage;
    `sites`: the registered sites, whose default ranges are kept fresh."""

    def __init__(self, storage: Storage, config: TrustConfig, *, interval: float = 10.0,
                 pending: Callable[[], bool] = lambda: False, sites: Callable[[], Iterable[str]] = lambda: ()):
        self.storage = storage
        self.config = config
        self.interval = interval
        self._pending = pending
        self._sites = sites
        self._ranges: dict[tuple, _Range] = {}
        self._retired: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self._flushes = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pinned_day: date | None = None
        self.evaluated = 0  # evaluations run (first asks and background)
        self.reused = 0  # reports answered from an existing evaluation
        self.passes = 0

    # --- what reports call ----------------------------------------------------------------------
    def verdicts(self, site: str, start: datetime, end: datetime, config: TrustConfig | None = None) -> Verdicts:
        """The newest evaluation of `site` over [start, end) (UTC) under `config`; the first ask
        of a range evaluates it (once), every later one reads what the background keeps fresh."""
        entry = self._entry(site, start, end, config or self.config)
        entry.asked_at = time.monotonic()
        current = entry.current
        if current is not None:
            self.reused += 1
            return current
        with entry.lock:
            if entry.current is None:
                self._evaluate(entry, settings=None)
            else:
                self.reused += 1
            return entry.current

    def notify_flushed(self) -> None:
        """The flusher stored new events: ranges they may fall in are checked on the next tick."""
        self._flushes += 1
        self._wake.set()

    # --- the background ---------------------------------------------------------------------------
    def refresh(self, site: str | None = None, *, force: bool = False) -> int:
        """One pass: check every range kept fresh (of `site` when given) and re-evaluate those
        whose data changed (`force`: now, whatever the interval). Returns the evaluations run."""
        now = time.monotonic()
        flushes = self._flushes
        with self._lock:
            for key, entry in list(self._ranges.items()):
                if not entry.pinned and now - entry.asked_at > KEEP_SECONDS:
                    del self._ranges[key]
                    if entry.current:
                        self._retired.append((now, entry.current.set_id))
            entries = list(self._ranges.values())
        open_after = datetime.now(UTC).replace(tzinfo=None) - LIVE_REACH
        done = 0
        for entry in entries:
            if site is not None and entry.site != site:
                continue
            flushed = entry.flushes_seen != flushes and entry.end > open_after
            due = force or flushed or now - entry.checked_at >= RECHECK_SECONDS
            if not due or (not force and now - entry.checked_at < self._spacing(entry)):
                continue
            if not entry.lock.acquire(blocking=False):
                continue  # a first ask is evaluating it right now
            try:
                entry.flushes_seen = flushes
                if self._evaluate(entry, settings=BACKGROUND):
                    done += 1
            finally:
                entry.lock.release()
        self._drop_retired()
        self.passes += 1
        return done

    def _spacing(self, entry: _Range) -> float:
        """Seconds between two checks of a range: `interval`, stretched to twice the range's last
        evaluation so that the evaluator takes at most a third of a core, but never so far that
        `as_of` would fall more than LAG_BUDGET behind (spacing + one evaluation)."""
        return max(self.interval, min(2 * entry.took, LAG_BUDGET - entry.took))

    def _evaluate(self, entry: _Range, *, settings: dict | None) -> bool:
        """Bring one range up to date (holding its lock); True when its set was recomputed."""
        params = entry.params()
        as_of = self._watermark(entry.site)
        fingerprint = tuple(_plain(v) for v in self.storage.query(FINGERPRINT, params, what="checking the untrusted visitors").rows[0])
        entry.checked_at = time.monotonic()
        if entry.current is not None and fingerprint == entry.fingerprint:
            entry.current = Verdicts(entry.current.set_id, max(as_of, entry.current.as_of))
            return False
        set_id = secrets.randbits(63) | 1
        started = time.monotonic()
        self.storage.command(FILL, {**bind_coverage(self.storage, params), "set_id": set_id},
                             what="computing the untrusted visitors", settings=settings)
        entry.took = time.monotonic() - started
        old = entry.current
        entry.current = Verdicts(set_id, max(as_of, old.as_of) if old else as_of)
        entry.fingerprint = fingerprint
        entry.evaluated_at = time.monotonic()
        self.evaluated += 1
        if old is not None:
            with self._lock:
                self._retired.append((time.monotonic(), old.set_id))
        return True

    def _watermark(self, site: str) -> datetime:
        """A time up to which every event this process accepted is in storage (see the module)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        if not self._pending():
            return now
        newest = self.storage.scalar(NEWEST, {"site": site, "now": now}, what="reading the newest event")
        return min(now, newest) if isinstance(newest, datetime) and newest.year > 1970 else now - timedelta(seconds=1)

    def _entry(self, site: str, start: datetime, end: datetime, config: TrustConfig, *, pinned: bool = False) -> _Range:
        key = (site, start, end, settings_key(config))
        with self._lock:
            entry = self._ranges.get(key)
            if entry is None:
                entry = self._ranges[key] = _Range(site, start, end, config, pinned=pinned)
                self._evict()
            entry.pinned = entry.pinned or pinned
            return entry

    def _evict(self) -> None:
        """At most MAX_RANGES asked ranges besides the pinned defaults (two a site)."""
        while True:
            asked = [(e.asked_at, k) for k, e in self._ranges.items() if not e.pinned]
            if len(asked) <= MAX_RANGES:
                return
            _, key = min(asked)
            gone = self._ranges.pop(key)
            if gone.current:
                self._retired.append((time.monotonic(), gone.current.set_id))

    def _pin_defaults(self) -> None:
        """Keep the dashboard's default range (the last DEFAULT_DAYS UTC days) and the period
        before it (the change figures) fresh for every registered site, from each UTC day on."""
        today = datetime.now(UTC).date()
        if self._pinned_day == today:
            return
        self._pinned_day = today
        try:
            sites = list(self._sites())
        except TrackerError as exc:
            log.warning("could not list sites for trust evaluation: %s", exc.message)
            self._pinned_day = None
            return
        with self._lock:
            for entry in self._ranges.values():
                entry.pinned = False  # yesterday's defaults age out like any range
        end = datetime.combine(today + timedelta(days=1), datetime.min.time())
        for site in sites:
            for k in (0, 1):
                stop = end - timedelta(days=k * DEFAULT_DAYS)
                self._entry(site, stop - timedelta(days=DEFAULT_DAYS), stop, self.config, pinned=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(TICK_SECONDS)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self._pin_defaults()
                self.refresh()
            except TrackerError as exc:  # storage down or slow: try again next tick
                log.warning("trust evaluation failed: %s", exc.message)
                self._stop.wait(5.0)
            except Exception:  # never let the evaluator die silently
                log.exception("trust evaluation failed")
                self._stop.wait(5.0)

    def start(self) -> None:
        """Start the background thread (`interval` <= 0: none; ranges are evaluated on first ask
        and by `refresh` only)."""
        if self.interval <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="trust-live", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None

    # --- dropping sets ----------------------------------------------------------------------------
    def _drop_retired(self, *, everything: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            due = [sid for at, sid in self._retired if everything or now - at >= RETIRE_SECONDS]
            self._retired = [(at, sid) for at, sid in self._retired if not everything and now - at < RETIRE_SECONDS]
        self._drop(due)

    def _drop(self, set_ids: list[int]) -> None:
        table = "trust_sets_local" if self.storage.cluster else "trust_sets"
        for set_id in set_ids:
            # set_id is an integer this module generated, never input: safe as a literal.
            self.storage.command(f"ALTER TABLE {table}{self.storage.on_cluster} DROP PARTITION {int(set_id)}",
                                 what="dropping an old untrusted set", every_node=True)

    def close(self) -> None:
        """Drop every set this process made (they are re-evaluated by the next process)."""
        self.stop()
        with self._lock:
            ids = [e.current.set_id for e in self._ranges.values() if e.current]
            self._ranges.clear()
        self._drop(ids)
        self._drop_retired(everything=True)


def _plain(value: Any) -> Any:
    return tuple(_plain(v) for v in value) if isinstance(value, (tuple, list)) else value


def settings_key(config: TrustConfig) -> str:
    """What a set depends on besides the data: every trust threshold and weight."""
    trust = dict(sorted(trust_params(config).items()))
    return hashlib.sha256(repr(trust).encode()).hexdigest()[:16]
