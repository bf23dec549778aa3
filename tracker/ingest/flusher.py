"""Moves sealed spool segments into ClickHouse, in big inserts, and only then frees them.

One background thread. Each round takes the oldest sealed segments (up to `flush_max_bytes`),
sends their bytes as one JSONEachRow `raw_insert` with an `insert_deduplication_token` that is
a digest of exactly those bytes (a crash between insert and delete replays the same bytes, so
the same token, which ClickHouse drops; the ReplacingMergeTree on event ids is the second guard
when a replay batches differently), and deletes the files after ClickHouse confirmed. The token
must never repeat for different data: ClickHouse silently drops an insert whose token it has
seen, so a token built from segment numbers (which restart at 1 on an empty spool) lost the
first events after every quiet restart. Storage errors back off exponentially and retry forever: the spool cap,
not the flusher, decides when ingest pushes back with 503.

A batch ClickHouse refuses for its content (not for being unreachable) is split in halves until
the refused records are isolated; those go to `dead_letters` with the error, the rest is stored.
An error that says nothing about the rows (`NOT_THE_ROWS`: a user, grant, table or resource the
server lacks) is retried like an unreachable server: a materialized view whose definer the
engine does not know refused every row of `events`, and splitting moved acknowledged events to
`dead_letters` instead of waiting for the store to be fixed.
Rows are never turned into Python objects here, so flushing does not hold the GIL for long.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import dataclass, field

import orjson

from tracker.errors import DataDirBusy, QueryTimeout, StorageError, TrackerError
from tracker.ingest.spool import Segment, Spool
from tracker.storage.client import Storage

# ClickHouse error codes that blame the server, not the rows: retried, never dead-lettered.
NOT_THE_ROWS = frozenset({
    60, 81,  # UNKNOWN_TABLE, UNKNOWN_DATABASE (a view's target dropped, a store half migrated)
    164, 192, 193, 194, 195, 497, 516,  # READONLY, UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD,
    # IP_ADDRESS_NOT_ALLOWED, ACCESS_DENIED, AUTHENTICATION_FAILED
    173, 241, 243, 252,  # CANNOT_ALLOCATE_MEMORY, MEMORY_LIMIT_EXCEEDED, NOT_ENOUGH_SPACE, TOO_MANY_PARTS
    202, 203, 236, 242, 279, 319, 394,  # TOO_MANY_SIMULTANEOUS_QUERIES, NO_FREE_CONNECTION, ABORTED,
    # TABLE_IS_READ_ONLY, ALL_CONNECTION_TRIES_FAILED, UNKNOWN_STATUS_OF_INSERT, QUERY_WAS_CANCELLED
    225, 999,  # NO_ZOOKEEPER, KEEPER_EXCEPTION
})

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


def dedup_token(data: bytes) -> str:
    """The insert's deduplication token: a digest of the exact bytes inserted, so a replay of
    the same bytes is dropped by ClickHouse and different bytes never share a token."""
    return "spool-" + hashlib.blake2b(data, digest_size=16).hexdigest() + f"-{len(data)}"


@dataclass
class FlushStats:
    inserts: int = 0
    rows: int = 0
    bytes: int = 0
    failures: int = 0
    dead_letters: int = 0
    last_flush_at: float = 0.0
    last_error: str = ""
    last_error_at: float = 0.0
    backoff: float = 0.0
    insert_seconds: list[float] = field(default_factory=list)


class Flusher:
    def __init__(self, storage: Storage, spool: Spool, *, interval: float, max_bytes: int, table: str = "events"):
        self.storage = storage
        self.spool = spool
        self.interval = interval
        self.max_bytes = max_bytes
        self.table = table
        self.stats = FlushStats()
        self._stop = threading.Event()
        self._kick = threading.Event()
        self._idle = threading.Condition()
        self._busy = False
        self._pause = threading.Lock()  # held by callers that need the spool to stand still
        self._thread: threading.Thread | None = None
        self.before_insert = None  # e.g. pending migrations when storage was down at start
        self.on_flushed: list = []  # called after each stored batch (the trust evaluator's cue)
        spool.on_sealed.append(self._kick.set)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="flusher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Seal what is buffered and try to flush it before returning."""
        self.spool.request_seal()
        deadline = time.monotonic() + timeout
        while self.spool.size_bytes and time.monotonic() < deadline and self.stats.backoff == 0:
            self._kick.set()
            time.sleep(0.05)
        self._stop.set()
        self._kick.set()
        if self._thread:
            self._thread.join(timeout=max(1.0, deadline - time.monotonic()))

    # --- the loop ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._kick.wait(timeout=self.interval / 2)
            self._kick.clear()
            if self.spool.due_for_seal():
                self.spool.request_seal()
            try:
                while self.flush_once():
                    pass
                self.stats.backoff = 0.0
            except (StorageError, QueryTimeout, DataDirBusy) as exc:
                self._note_failure(exc)
                self._stop.wait(self.stats.backoff)
            except Exception as exc:  # never let the flusher thread die
                log.exception("flusher round failed")
                self._note_failure(exc)
                self._stop.wait(self.stats.backoff)

    def _note_failure(self, exc: BaseException) -> None:
        self.stats.failures += 1
        self.stats.last_error = exc.message if isinstance(exc, TrackerError) else type(exc).__name__
        self.stats.last_error_at = time.time()
        self.stats.backoff = min(MAX_BACKOFF, max(0.2, self.stats.backoff * 2))
        log.warning("flush failed (%s); retrying in %.1fs", self.stats.last_error, self.stats.backoff)

    def flush_once(self) -> bool:
        """Insert one batch of sealed segments. True if something was flushed."""
        with self._pause:
            batch: list[Segment] = []
            size = 0
            for path in self.spool.ready_segments():
                if batch and size + path.stat().st_size > self.max_bytes:
                    break
                segment = self.spool.read(path)
                batch.append(segment)
                size += segment.size
            if not batch:
                return False
            if self.before_insert is not None:
                self.before_insert()
                self.before_insert = None
            records = [r for s in batch for r in s.records]
            started = time.perf_counter()
            self._insert_records(records)
            elapsed = time.perf_counter() - started
            for segment in batch:
                self.spool.release(segment)
            self.stats.inserts += 1
            self.stats.rows += sum(r.count(b"\n") for r in records)
            self.stats.bytes += size
            self.stats.last_flush_at = time.time()
            self.stats.insert_seconds = (self.stats.insert_seconds + [elapsed])[-100:]
            for callback in self.on_flushed:
                callback()
            return True

    def _insert_records(self, records: list[bytes]) -> None:
        data = b"".join(records)
        try:
            self.storage.insert_jsonl(self.table, data, dedup_token=dedup_token(data), what="flushing the spool")
        except StorageError as error:
            if error.code in NOT_THE_ROWS or not self.storage.ping():
                raise  # the server's fault, or unreachable: retry the whole batch later
            if len(records) == 1:
                self._dead_letter(records[0])
                return
            half = len(records) // 2
            self._insert_records(records[:half])
            self._insert_records(records[half:])

    def _dead_letter(self, record: bytes) -> None:
        rows = []
        for line in record.splitlines():
            try:
                vid = orjson.loads(line).get("vid", "")
            except orjson.JSONDecodeError:
                vid = ""
            rows.append(orjson.dumps({"at": time.time(), "segment": "", "error": "rejected by ClickHouse", "vid": str(vid), "row": line.decode("utf-8", "replace")}) + b"\n")
        self.storage.insert_jsonl("dead_letters", b"".join(rows), what="storing dead letters")
        self.stats.dead_letters += len(rows)
        log.error("%d rows refused by ClickHouse were moved to dead_letters", len(rows))

    # --- for callers that need everything in ClickHouse now ------------------------------------
    def drain(self, timeout: float = 30.0) -> bool:
        """Seal and flush everything acknowledged so far; True when the spool is empty."""
        self.spool.request_seal()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.spool.active_bytes:
                self.spool.request_seal()
                time.sleep(0.005)
                continue
            try:
                while self.flush_once():
                    pass
            except (StorageError, QueryTimeout, DataDirBusy):
                time.sleep(0.1)
                continue
            if not self.spool.size_bytes:
                return True
            time.sleep(0.005)
        return False

    def paused(self):
        """Context manager: no flush runs while held (used to rewrite sealed segments)."""
        return self._pause
