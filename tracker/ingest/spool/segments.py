"""The spool's sealed segment files: recovery at start, reading, releasing and rewriting.

A mixin of `Spool` (it uses the spool's `dir`, `quarantine`, lock and counters), kept apart so
the sync thread's write path reads on its own.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from tracker.ingest.spool.quarantine import Quarantine
from tracker.ingest.spool.records import Scan, Segment, encode_record, scan

log = logging.getLogger("tracker.ingest.spool")


def _is_segment(path: Path) -> bool:
    """A segment file of ours: a numbered regular file (not a directory or a link)."""
    return path.stem.isdigit() and path.is_file() and not path.is_symlink()


class SegmentFiles:
    dir: Path
    quarantine: Quarantine
    _lock: threading.Lock
    ready_bytes: int
    buffered_events: int

    def _next_seq(self) -> int:
        seqs = [int(p.stem) for p in self.dir.iterdir() if p.suffix in (".ready", ".open") and _is_segment(p)]
        return max(seqs, default=0) + 1

    def _recover(self) -> None:
        """Seal crashed `.open` segments and check sealed ones, keeping every intact record;
        what cannot be read goes to the quarantine."""
        stray = []
        for path in sorted(self.dir.iterdir()):
            if path.name == "quarantine" and path.is_dir():
                continue
            if path.suffix == ".tmp" and _is_segment(path):
                path.unlink()  # a rewrite cut by a crash: the segment itself is still there
            elif path.suffix == ".open" and _is_segment(path):
                self._repair(path, scan(path.read_bytes()), seal=True)
            elif (path.suffix != ".ready" or not _is_segment(path)) and not path.name.startswith(".") and not path.is_dir():
                stray.append(path.name)  # (directories: worker spools; dot files: locks)
        if stray:
            log.warning("spool %s: ignoring %d entries that are not segments: %s", self.dir, len(stray), ", ".join(stray[:10]))
        self.ready_bytes, self.buffered_events = 0, 0
        for path in self.ready_segments():
            found = self._repair(path, scan(path.read_bytes()))
            if found.records:
                self.ready_bytes += path.stat().st_size
                self.buffered_events += sum(r.count(b"\n") for r in found.records)

    def _repair(self, path: Path, found: Scan, *, seal: bool = False, strict: bool = False) -> Scan:
        """Quarantine the damage `found` in `path`; leave it holding only intact records
        (sealed as `.ready` when `seal`), or remove it when none is left. If the disk refuses
        (full), the file is only sealed as it is: `read` repairs it before it is flushed."""
        target = path.with_suffix(".ready") if seal else path
        if found.damaged:
            tail = seal and len(found.damaged) == 1 and found.damaged[0][0] + len(found.damaged[0][1]) == path.stat().st_size
            try:
                self.quarantine.put(path, found, torn_tail=tail)
            except OSError as exc:
                if strict:  # the flusher's read: nothing is sent until the damage is set aside
                    raise
                log.error("spool %s: cannot move %d damaged bytes aside now (%s); repaired before it is flushed",
                          path.name, found.damaged_bytes, exc.strerror or exc)
                if target != path:
                    path.rename(target)
                return found
        if not found.records:
            path.unlink()
        elif found.damaged:
            self._write_atomically(target, b"".join(encode_record(r) for r in found.records))
            if target != path:
                path.unlink()
        elif target != path:
            path.rename(target)
        return found

    @staticmethod
    def _write_atomically(path: Path, data: bytes) -> None:
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    # --- reading (flusher) -----------------------------------------------------------------------
    def ready_segments(self) -> list[Path]:
        return sorted(p for p in self.dir.glob("*.ready") if _is_segment(p))

    def read(self, path: Path) -> Segment:
        """A sealed segment's intact records. Damage found here (the disk changed the file
        since it was sealed) is quarantined and the file rewritten, before anything is sent."""
        data = path.read_bytes()
        found = scan(data)
        if not found.damaged:
            return Segment(path, found.records, len(data))
        self._repair(path, found, strict=True)
        size = path.stat().st_size if found.records else 0
        with self._lock:
            self.ready_bytes = max(0, self.ready_bytes - len(data) + size)
            self.buffered_events = max(0, self.buffered_events - sum(b.count(b"\n") for _, b in found.damaged))
        return Segment(path, found.records, size)

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
        data = b"".join(encode_record(r) for r in records)
        self._write_atomically(segment.path, data)
        removed = sum(r.count(b"\n") for r in segment.records) - sum(r.count(b"\n") for r in records)
        with self._lock:
            self.ready_bytes += len(data) - segment.size
            self.buffered_events = max(0, self.buffered_events - removed)

    def iter_all_records(self) -> Iterator[bytes]:
        for path in self.ready_segments():
            yield from self.read(path).records
