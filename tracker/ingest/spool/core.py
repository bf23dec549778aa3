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
confirmed.

Damage (`records.scan`): on start every segment is scanned; an `.open` one left by a crash
keeps every intact record and is sealed, so restart replays exactly the acknowledged rows.
Bytes that cannot be read (a torn tail, flipped bits, a garbage file) go to the quarantine
(`quarantine.py`) and the segment is rewritten with its intact records; the flusher's `read`
does the same for damage found later. Entries of the spool dir that are not segments (stray
files, directories, a `.tmp` left by a crash mid-rewrite) are never read as segments.

Disk faults: a failed write or fsync (ENOSPC, EIO, ...) puts the spool in a *fault* state:
the waiting requests fail at once (`SpoolUnavailable`, answered 503 + Retry-After, nothing
acknowledged), new appends are refused, the file is cut back to its last durable length, and
the sync thread retries the same bytes with a back-off until a write + fsync succeeds, which
clears the fault. Each change of state is logged once. `wait_durable` also has a deadline, so
a disk that hangs instead of failing cannot hang collect.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

from tracker.ingest.spool.quarantine import Quarantine
from tracker.ingest.spool.records import encode_record
from tracker.ingest.spool.segments import SegmentFiles

log = logging.getLogger("tracker.ingest.spool")

MAX_RETRY_PAUSE = 1.0  # between attempts to write while the disk fails
RECOVERY_FREE_BYTES = 256 * 1024  # free space at which a full disk counts as recovered


class SpoolFull(Exception):
    pass


class SpoolUnavailable(Exception):
    """The spool cannot make bytes durable now (disk full or failing): answer 503, retry later."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def describe_error(exc: OSError) -> str:
    """A short, stable reason for a disk error (the state, not the instance)."""
    name = errno.errorcode.get(exc.errno or 0, "error")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the spool's disk is full ({name})"
    return f"the spool's disk fails ({name}: {os.strerror(exc.errno) if exc.errno else exc})"


class Spool(SegmentFiles):
    def __init__(self, directory: Path, *, segment_bytes: int, max_bytes: int, fsync: bool, seal_after: float, commit_delay: float = 0.002,
                 durable_timeout: float = 5.0):
        self.dir = directory
        self.commit_delay = commit_delay
        self.dir.mkdir(parents=True, exist_ok=True)
        self.segment_bytes = segment_bytes
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.seal_after = seal_after
        self.durable_timeout = durable_timeout  # most a request waits for its fsync before a 503
        self.quarantine = Quarantine(directory / "quarantine")
        self.fault = ""  # why the disk cannot take writes now; "" when it can
        self.fault_since = 0.0
        self.faults = 0  # times the spool entered the fault state
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

    # --- the active file ---------------------------------------------------------------------
    def _open_new(self) -> None:
        self._path = self.dir / f"{self._seq:012d}.open"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file_bytes = 0
        self._seq += 1

    # --- append (event loop) -------------------------------------------------------------------
    @property
    def size_bytes(self) -> int:
        return self.ready_bytes + self._active_bytes

    @property
    def full(self) -> bool:
        return self.size_bytes >= self.max_bytes

    def append(self, payload: bytes) -> int:
        """Write one record; returns a ticket to wait on. Raises SpoolFull over the cap and
        SpoolUnavailable while the disk fails."""
        if self.fault:
            raise SpoolUnavailable(self.fault)
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
        """Return once the ticket's bytes are durable; SpoolUnavailable if the disk fails or
        they are not durable within `durable_timeout` (the request is then not acknowledged)."""
        if self._durable >= ticket:
            return
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self._lock:
            if self._durable >= ticket:
                return
            if self.fault:
                raise SpoolUnavailable(self.fault)
            self._waiters.append((ticket, future))
            self._wake.notify()
        try:
            await asyncio.wait_for(asyncio.shield(future), self.durable_timeout)
        except TimeoutError:
            raise SpoolUnavailable(self.fault or "the spool's disk did not confirm the write in time") from None

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
        last_sync, retry = 0.0, 0.0
        self._stop_attempts = 0
        while True:
            # Group commit: let requests gather for `commit_delay` after the previous write, so
            # one write + fsync (and one GIL hand-off) serves many of them.
            pause = last_sync + self.commit_delay - time.monotonic()
            if pause > 0 and not self._stopping:
                time.sleep(pause)
            with self._lock:
                while not self._stopping and not self._pending and not self._waiters and not self._seal_requested and not self.due_for_seal() \
                        and not self.fault:
                    self._wake.wait(timeout=min(0.25, self.seal_after))
                if self._stopping and not self._pending and not self._waiters and not self._active_bytes:
                    return
                chunks, self._pending = self._pending, []
                upto = self._written  # every byte up to here is in `chunks` or already written
                seal = self._active_bytes > 0 and (self._seal_requested or self.due_for_seal() or self._stopping)
            data = b"".join(chunks)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
                if self.fsync or seal:
                    os.fsync(self._fd)
                    self.fsyncs += 1
            except OSError as exc:
                self._write_failed(exc, chunks)
                retry = min(MAX_RETRY_PAUSE, retry * 2 or 0.05)
                if self._pause_after_failure(retry):
                    return
                continue
            last_sync = time.monotonic()
            self._file_bytes += len(data)
            self._on_disk = upto
            sealed = True
            if seal:
                try:
                    self._seal_file()
                except OSError as exc:  # creating the next file or the rename failed
                    self._set_fault(describe_error(exc))
                    sealed = False
            if sealed and self.fault and self._room_to_recover():
                self._set_fault("")
            with self._lock:
                self._durable = max(self._durable, upto)
                done = []
                while self._waiters and self._waiters[0][0] <= upto:
                    done.append(self._waiters.popleft()[1])
                self._wake.notify_all()
            _wake_all(done)
            if self.fault:  # still failing, or not yet room enough to take requests again
                retry = min(MAX_RETRY_PAUSE, retry * 2 or 0.05)
                if self._pause_after_failure(retry):
                    return
            else:
                retry = 0.0

    def _write_failed(self, exc: OSError, chunks: list[bytes]) -> None:
        """Undo a failed write (cut the file back to its durable length, keep the records
        pending for the retry) and fail every request waiting: none of them is acknowledged."""
        try:
            os.ftruncate(self._fd, self._file_bytes)  # never leave a torn record mid-file
        except OSError:
            pass
        with self._lock:
            self._pending[:0] = chunks
            waiting = [future for _, future in self._waiters]
            self._waiters.clear()
        self._set_fault(describe_error(exc))
        _wake_all(waiting, SpoolUnavailable(self.fault))

    def _room_to_recover(self) -> bool:
        """After a full disk, a write that fits is not yet recovery: the next one would fail
        again (and the state flap). Take requests again once RECOVERY_FREE_BYTES are free."""
        if "full" not in self.fault:
            return True
        try:
            st = os.fstatvfs(self._fd)
        except OSError:
            return False
        return st.f_bavail * st.f_frsize >= RECOVERY_FREE_BYTES

    def _pause_after_failure(self, pause: float) -> bool:
        """Wait before the next attempt (close() wakes it); True when closing on a disk that
        keeps failing: the records still pending were never acknowledged."""
        with self._lock:
            if self._stopping:
                self._stop_attempts += 1
                if self._stop_attempts > 5:
                    log.error("spool: closing with %d unwritten records (never acknowledged): %s", len(self._pending), self.fault)
                    return True
            self._wake.wait(pause)
        return False

    def _set_fault(self, reason: str) -> None:
        """Enter, change or leave (reason "") the fault state; logged once per change."""
        if reason == self.fault:
            return
        if reason:
            if not self.fault:
                self.faults += 1
                self.fault_since = time.time()
            log.error("spool: %s; collect answers 503 until a write succeeds", reason)
        else:
            log.warning("spool: writes succeed again after %.1fs; collect accepts events", time.time() - self.fault_since)
            self.fault_since = 0.0
        self.fault = reason

    def _seal_file(self) -> None:
        """Close the active file (written and fsynced) as `.ready`; appends since then belong
        to the next segment. The next file is opened first, so a failure (raised) leaves
        everything as it was and the seal is retried."""
        sealed_path, sealed_bytes, sealed_fd = self._path, self._file_bytes, self._fd
        next_path = self.dir / f"{self._seq:012d}.open"
        next_fd = os.open(next_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            sealed_path.rename(sealed_path.with_suffix(".ready"))
        except OSError:
            os.close(next_fd)
            next_path.unlink(missing_ok=True)
            raise
        os.close(sealed_fd)
        with self._lock:
            self._path, self._fd, self._file_bytes = next_path, next_fd, 0
            self._seq += 1
            self._seal_requested = False
            self._active_bytes -= sealed_bytes
            self._active_since = time.monotonic() if self._active_bytes else 0.0
            self.ready_bytes += sealed_bytes
            self._sealed_seq = int(sealed_path.stem)
            self._wake.notify_all()
        for callback in self.on_sealed:
            callback()

    @property
    def active_bytes(self) -> int:
        """Bytes of the open segment, not yet sealed for the flusher."""
        return self._active_bytes

    def due_for_seal(self) -> bool:
        """The open segment holds records older than `seal_after`: the flusher asks it sealed."""
        return self._active_bytes > 0 and time.monotonic() - self._active_since >= self.seal_after

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


def _wake_all(futures: list[asyncio.Future], error: BaseException | None = None) -> None:
    """Resolve futures from the sync thread, each on its own loop (tests run several apps on
    one spool); with `error`, they raise it."""
    by_loop: dict = {}
    for future in futures:
        by_loop.setdefault(future.get_loop(), []).append(future)
    for loop, group in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve, group, error)
        except RuntimeError:  # that loop has closed: nobody is waiting any more
            pass


def _resolve(futures: list[asyncio.Future], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
