"""The durable spool: a 202 means the event's bytes are on disk.

Accepted rows are appended, as ready-to-insert JSONEachRow bytes, to an append-only segment
file (`NNN.open`) as one checksummed record per request:

    b"TS" | u32 payload length | u32 crc32(payload) | payload

The event loop only appends the record to an in-memory list (microseconds). One sync thread
owns the file: every `commit_delay` at most it writes what has gathered, fsyncs, and wakes
every request whose bytes that covered — many requests share one write and one fsync (group
commit). The loop thread never touches the file: on ext4 a `write()` waits for the inode lock
that a concurrent fsync of the same file holds, which stalled the whole event loop for the
length of each fsync. The same thread seals segments (`NNN.open` -> `NNN.ready`) when they
grow past `segment_bytes` or age past the flush interval; the flusher inserts sealed segments and deletes them only after ClickHouse
confirmed. On start, an `.open` segment left by a crash is cut at its last whole record and
sealed, so restart replays exactly the acknowledged rows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

MAGIC = b"TS"
HEADER = struct.Struct(">2sII")


@dataclass(frozen=True)
class Segment:
    path: Path
    records: list[bytes]  # each one request's rows, JSONEachRow
    size: int

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def payload(self) -> bytes:
        return b"".join(self.records)


def encode_record(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def read_records(data: bytes) -> tuple[list[bytes], int]:
    """Whole, checksum-valid records from the start of `data`, and the byte length they span."""
    records, pos = [], 0
    while pos + HEADER.size <= len(data):
        magic, length, crc = HEADER.unpack_from(data, pos)
        end = pos + HEADER.size + length
        if magic != MAGIC or end > len(data):
            break
        payload = data[pos + HEADER.size:end]
        if zlib.crc32(payload) != crc:
            break
        records.append(payload)
        pos = end
    return records, pos


class SpoolFull(Exception):
    pass


class Spool:
    def __init__(self, directory: Path, *, segment_bytes: int, max_bytes: int, fsync: bool, seal_after: float, commit_delay: float = 0.002):
        self.dir = directory
        self.commit_delay = commit_delay
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.seal_after = seal_after
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._pending: list[bytes] = []  # records appended, not yet written (sync thread writes)
        self._file_bytes = 0  # bytes written to the active file
        self._written = 0  # bytes appended since start (tickets)
        self._durable = 0  # bytes whose requests may be answered (fsynced, or written when fsync is off)
        self._on_disk = 0  # bytes written to segment files
        self._waiters: deque[tuple[int, asyncio.Future]] = deque()
        self._stopping = False
        self._seal_requested = False
        self.ready_bytes = 0
        self.buffered_events = 0  # rows appended and not yet confirmed by ClickHouse
        self._sealed_seq = 0
        self.records_appended = 0
        self.fsyncs = 0
        self.on_sealed: list = []  # callbacks, called from the sync thread
        self._recover()
        self._seq = self._next_seq()
        self._active_bytes = 0  # bytes of the active segment: written or pending
        self._active_since = 0.0
        self._open_new()
        self._thread = threading.Thread(target=self._sync_loop, name="spool-sync", daemon=True)
        self._thread.start()

    # --- files -------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        seqs = [int(p.stem) for p in self.dir.glob("*.ready") if p.stem.isdigit()]
        return max(seqs, default=0) + 1

    def _open_new(self) -> None:
        self._path = self.dir / f"{self._seq:012d}.open"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file_bytes = 0
        self._seq += 1

    def _recover(self) -> None:
        """Cut crashed `.open` segments at their last whole record and seal them."""
        for path in sorted(self.dir.glob("*.open")):
            data = path.read_bytes()
            records, valid = read_records(data)
            if valid < len(data):
                log.warning("spool %s: dropping %d torn bytes after %d whole records", path.name, len(data) - valid, len(records))
                with open(path, "r+b") as fh:
                    fh.truncate(valid)
                    os.fsync(fh.fileno())
            if records:
                path.rename(path.with_suffix(".ready"))
            else:
                path.unlink()
        self.ready_bytes = sum(p.stat().st_size for p in self.dir.glob("*.ready"))
        self.buffered_events = sum(r.count(b"\n") for p in self.dir.glob("*.ready") for r in read_records(p.read_bytes())[0])

    # --- append (event loop) -------------------------------------------------------------------
    @property
    def size_bytes(self) -> int:
        return self.ready_bytes + self._active_bytes

    @property
    def full(self) -> bool:
        return self.size_bytes >= self.max_bytes

    def append(self, payload: bytes) -> int:
        """Write one record; returns a ticket to wait on. Raises SpoolFull over the cap."""
        if self.full:
            raise SpoolFull()
        record = encode_record(payload)
        with self._lock:
            self._pending.append(record)
            if not self._active_bytes:
                self._active_since = time.monotonic()
            self._active_bytes += len(record)
            self._written += len(record)
            self.records_appended += 1
            self.buffered_events += payload.count(b"\n")
            ticket = self._written
            if not self.fsync:
                self._durable = ticket  # best effort by configuration: written within commit_delay
            if self._active_bytes >= self.segment_bytes:
                self._seal_requested = True
            if not self.fsync or self._seal_requested:
                self._wake.notify()
        return ticket

    async def wait_durable(self, ticket: int) -> None:
        if self._durable >= ticket:
            return
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._durable >= ticket:
                return
            self._waiters.append((ticket, future))
            self._wake.notify()
        await future

    def append_sync(self, payload: bytes, timeout: float = 10.0) -> None:
        """Blocking append + fsync, for callers outside the event loop."""
        ticket = self.append(payload)
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._durable < ticket and time.monotonic() < deadline:
                self._wake.notify()
                self._wake.wait(0.05)

    # --- the sync thread -------------------------------------------------------------------------
    def write_pending(self, timeout: float = 10.0) -> None:
        """Return once every record appended so far is in a segment file (thread-safe)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            target = self._written
            self._wake.notify_all()
            while self._on_disk < target and not self._stopping and time.monotonic() < deadline:
                self._wake.wait(0.02)

    def request_seal(self, timeout: float = 10.0) -> None:
        """Seal the active segment and return once it is flushable (thread-safe)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            if not self._active_bytes:
                return
            target = self._seq - 1  # the active segment's number
            self._seal_requested = True
            self._wake.notify_all()
            while self._sealed_seq < target and not self._stopping and time.monotonic() < deadline:
                self._wake.wait(0.05)

    def _sync_loop(self) -> None:
        last_sync = 0.0
        while True:
            # Group commit: let requests gather for `commit_delay` after the previous write, so
            # one write + fsync (and one GIL hand-off) serves many of them.
            pause = last_sync + self.commit_delay - time.monotonic()
            if pause > 0 and not self._stopping:
                time.sleep(pause)
            with self._lock:
                while not self._stopping and not self._pending and not self._waiters and not self._seal_requested and not self._due_for_seal():
                    self._wake.wait(timeout=min(0.25, self.seal_after))
                if self._stopping and not self._pending and not self._waiters and not self._active_bytes:
                    return
                chunks, self._pending = self._pending, []
                upto = self._written  # every byte up to here is in `chunks` or already written
                seal = self._active_bytes > 0 and (self._seal_requested or self._due_for_seal() or self._stopping)
            data = b"".join(chunks)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
                if self.fsync or seal:
                    os.fsync(self._fd)
                    self.fsyncs += 1
            except OSError:
                log.exception("spool write failed; will retry")
                try:
                    os.ftruncate(self._fd, self._file_bytes)  # never leave a torn record mid-file
                except OSError:
                    pass
                with self._lock:
                    self._pending[:0] = chunks
                time.sleep(0.1)
                continue
            last_sync = time.monotonic()
            self._file_bytes += len(data)
            self._on_disk = upto
            if seal:
                self._seal_file()
            with self._lock:
                self._durable = max(self._durable, upto)
                done = []
                while self._waiters and self._waiters[0][0] <= upto:
                    done.append(self._waiters.popleft()[1])
                self._wake.notify_all()
            # Each future is woken on its own loop (tests run several apps on one spool).
            by_loop: dict = {}
            for future in done:
                by_loop.setdefault(future.get_loop(), []).append(future)
            for loop, futures in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_resolve, futures)
                except RuntimeError:  # that loop has closed: nobody is waiting any more
                    pass

    def _seal_file(self) -> None:
        """Close the active file (written and fsynced) as `.ready`; appends since then belong
        to the next segment."""
        os.close(self._fd)
        sealed_path, sealed_bytes = self._path, self._file_bytes
        sealed_path.rename(sealed_path.with_suffix(".ready"))
        with self._lock:
            self._open_new()
            self._seal_requested = False
            self._active_bytes -= sealed_bytes
            self._active_since = time.monotonic() if self._active_bytes else 0.0
            self.ready_bytes += sealed_bytes
            self._sealed_seq = int(sealed_path.stem)
            self._wake.notify_all()
        for callback in self.on_sealed:
            callback()

    def _due_for_seal(self) -> bool:
        return self._active_bytes > 0 and time.monotonic() - self._active_since >= self.seal_after

    # --- reading (flusher) -------------------------------------------------------------------------
    def ready_segments(self) -> list[Path]:
        return sorted(self.dir.glob("*.ready"))

    def read(self, path: Path) -> Segment:
        data = path.read_bytes()
        records, valid = read_records(data)
        if valid < len(data):
            log.error("spool %s: %d bytes fail their checksum and are skipped", path.name, len(data) - valid)
        return Segment(path, records, len(data))

    def release(self, segment: Segment) -> None:
        """ClickHouse has the rows: the segment may go."""
        try:
            segment.path.unlink()
        except FileNotFoundError:
            return
        with self._lock:
            self.ready_bytes = max(0, self.ready_bytes - segment.size)
            self.buffered_events = max(0, self.buffered_events - sum(r.count(b"\n") for r in segment.records))

    def rewrite(self, segment: Segment, records: list[bytes]) -> None:
        """Replace a sealed segment's records (privacy erasure of rows not yet flushed)."""
        tmp = segment.path.with_suffix(".tmp")
        data = b"".join(encode_record(r) for r in records)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, segment.path)
        removed = sum(r.count(b"\n") for r in segment.records) - sum(r.count(b"\n") for r in records)
        with self._lock:
            self.ready_bytes += len(data) - segment.size
            self.buffered_events = max(0, self.buffered_events - removed)

    def iter_all_records(self) -> Iterator[bytes]:
        for path in self.ready_segments():
            yield from self.read(path).records

    def close(self) -> None:
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        self._thread.join(timeout=30)
        try:
            os.close(self._fd)
        except OSError:
            pass
        if self._path.exists() and self._path.stat().st_size == 0:
            self._path.unlink()


def _resolve(futures: list[asyncio.Future]) -> None:
    for future in futures:
        if not future.done():
            future.set_result(None)
