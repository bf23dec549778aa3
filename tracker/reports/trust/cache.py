"""Untrusted-visitor sets per site and range: what makes `traffic=trusted` cheap in every report.

Why. Whether a visitor is trusted depends on the whole report range (sums over its days, cookie
churn and shared coupons across visitors), so the set of excluded visitors belongs to a
(site, range, trust settings) triple. Computing it costs a pass over every visitor's day
partials (about 1.8 s at 10M events on the 2-core reference machine, even with the closed days
materialised), while a report's own work costs well under a second. A dashboard page asks the
same range two to six times, and every page after it asks again.

How. The first trusted report of a range computes the set once — every visitor of the range
whose score is at or below the threshold, with its score and reasons — into the `trust_sets`
table under a fresh random `set_id`; reports then read `vid NOT IN (SELECT vid FROM trust_sets
WHERE site = .. AND set_id = ..)` (`_sql.UNTRUSTED_VISITORS`), a few milliseconds. The report
runner asks for the set (`TrustSets.set_id`) before running any report that reads it; the
process's one `TrustSets` is `runtime.trust_sets`. The set is
reused only while it is exact: before each use a *fingerprint* of everything the rule reads is
compared with the one taken before the set was computed:
- the events of the site from a day before the range to its end (the rule looks one day
  back): their count and the sum of their timestamps, one scan of one column (~60 ms at 10M);
  any insert, late import, erasure or merge of duplicates changes it;
- the site's promotions registry rows (their coupons are exempt from `coupon_shared`);
- the trust settings (weights, thresholds, threshold): part of the key.
A changed fingerprint recomputes the set; concurrent reports of one range wait for a single
computation instead of each running their own. Superseded sets are dropped (one partition each)
a few minutes later, so a report still running on the old set finishes on it; `close` drops the
process's sets and a one-day TTL clears any left by a server that stopped without closing.

Under a constant stream of new events in the range the fingerprint changes between most
reports, and each recomputes (at the cost a trusted report paid before this cache); the day
partials of `materialise` keep that cost down for the closed days.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.reports.trust.score import VISITOR_SCORES, TrustConfig, trust_params
from tracker.reports.trust.signals import bind_coverage
from tracker.storage.client import Storage

MAX_SETS = 64  # (site, range, settings) keys kept per process
RETIRE_SECONDS = 300.0  # how long a superseded set stays readable for reports still running on it

FINGERPRINT = """
    SELECT
        (SELECT (count(), sum(toUnixTimestamp64Milli(ts)),
                 countIf(type = 'purchase' AND ts < now64(3) - toIntervalMillisecond({tt_orders_grace_ms:UInt64}))) FROM events
         WHERE site = {site:String}
           AND ts >= {start:DateTime64(3, 'UTC')} - INTERVAL 1 DAY AND ts < {end:DateTime64(3, 'UTC')}) AS e,
        (SELECT (count(), max(updated_at)) FROM promos WHERE site = {site:String}) AS p,
        -- trust/revenue.py: a new confirmation, or a purchase passing the grace period unconfirmed
        (SELECT (count(), max(version)) FROM orders WHERE site = {site:String}) AS o
"""

FILL = f"""
    INSERT INTO trust_sets (site, set_id, vid, score, reasons)
    SELECT {{site:String}}, {{set_id:UInt64}}, vid, score, reasons
    FROM ({VISITOR_SCORES})
    WHERE score <= {{threshold:UInt8}}
"""


@dataclass
class _Entry:
    fingerprint: tuple
    set_id: int


class TrustSets:
    """The sets of one storage (one process's view of one database)."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self._retired: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self.computed = 0
        self.reused = 0

    def set_id(self, site: str, start: datetime, end: datetime, config: TrustConfig) -> int:
        """The id of an exact untrusted set of `site` over [start, end) (UTC) under `config`,
        computing it if needed."""
        params = {"site": site, "start": start, "end": end, **trust_params(config)}
        key = (site, start, end, _settings_key(config))
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            fingerprint = self._fingerprint(params)
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None and entry.fingerprint == fingerprint:
                    self._entries.move_to_end(key)
                    self.reused += 1
                    return entry.set_id
            set_id = secrets.randbits(63) | 1
            self.storage.command(FILL, {**bind_coverage(self.storage, params), "set_id": set_id}, what="computing the untrusted visitors")
            with self._lock:
                self.computed += 1
                old = self._entries.pop(key, None)
                self._entries[key] = _Entry(fingerprint, set_id)
                retire = [old.set_id] if old else []
                while len(self._entries) > MAX_SETS:
                    evicted_key, evicted = self._entries.popitem(last=False)
                    self._key_locks.pop(evicted_key, None)
                    retire.append(evicted.set_id)
                now = time.monotonic()
                self._retired.extend((now, sid) for sid in retire)
                due = [sid for at, sid in self._retired if now - at >= RETIRE_SECONDS]
                self._retired = [(at, sid) for at, sid in self._retired if now - at < RETIRE_SECONDS]
            self._drop(due)
            return set_id

    def _fingerprint(self, params: dict) -> tuple:
        row = self.storage.query(FINGERPRINT, params, what="checking the untrusted visitors").rows[0]
        return tuple(_plain(v) for v in row)

    def _drop(self, set_ids: list[int]) -> None:
        table = "trust_sets_local" if self.storage.cluster else "trust_sets"
        for set_id in set_ids:
            # set_id is an integer this module generated, never input: safe as a literal.
            self.storage.command(f"ALTER TABLE {table}{self.storage.on_cluster} DROP PARTITION {int(set_id)}",
                                 what="dropping an old untrusted set", every_node=True)

    def close(self) -> None:
        """Drop every set this process made (they are a cache)."""
        with self._lock:
            ids = [e.set_id for e in self._entries.values()] + [sid for _, sid in self._retired]
            self._entries.clear()
            self._retired.clear()
        self._drop(ids)


def _plain(value: Any) -> Any:
    return tuple(_plain(v) for v in value) if isinstance(value, (tuple, list)) else value


def _settings_key(config: TrustConfig) -> str:
    """What the set depends on besides the data: every trust threshold and weight."""
    trust = dict(sorted(trust_params(config).items()))
    return hashlib.sha256(repr(trust).encode()).hexdigest()[:16]
