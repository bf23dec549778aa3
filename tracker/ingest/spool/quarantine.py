"""Where the spool puts bytes it cannot read: `spool/quarantine/`, one file per damaged range.

A damaged range is never deleted and never sent to ClickHouse: it is moved here (named after
its segment and offset, so an operator can find where it came from) and counted, and the
segment is rewritten with its intact records only. The counts cover what is on disk (so they
survive restarts) and what this process moved; `/readyz` shows them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from tracker.ingest.spool.records import Scan

log = logging.getLogger("tracker.ingest.spool")


class Quarantine:
    def __init__(self, directory: Path):
        self.dir = directory
        self._lock = threading.Lock()
        self.moved_regions = 0  # damaged ranges moved by this process
        self.moved_bytes = 0
        self.files, self.bytes = 0, 0  # what the quarantine dir holds
        if directory.is_dir():
            for p in directory.iterdir():
                if p.is_file():
                    self.files += 1
                    self.bytes += p.stat().st_size

    def put(self, segment: Path, found: Scan, *, torn_tail: bool = False) -> None:
        """Move the damaged ranges of `segment` here (fsynced) and log what was done."""
        self.dir.mkdir(parents=True, exist_ok=True)
        stamp = time.time_ns()
        for offset, data in found.damaged:
            target = self.dir / f"{segment.stem}{segment.suffix}@{offset}-{stamp}.bad"
            with open(target, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        _fsync_dir(self.dir)
        with self._lock:
            self.moved_regions += len(found.damaged)
            self.moved_bytes += found.damaged_bytes
            self.files += len(found.damaged)
            self.bytes += found.damaged_bytes
        where = ", ".join(f"{len(data)} bytes at offset {offset}" for offset, data in found.damaged[:5])
        more = f" and {len(found.damaged) - 5} more" if len(found.damaged) > 5 else ""
        if torn_tail:
            # The crash cut the last write: those bytes were never acknowledged.
            log.warning("spool %s: a torn tail (%s) left by a crash moved to %s; %d whole records kept",
                        segment.name, where, self.dir, len(found.records))
        else:
            log.error("spool %s: %d damaged region(s) (%s%s) moved to %s; %d intact records kept",
                      segment.name, len(found.damaged), where, more, self.dir, len(found.records))

    def stats(self) -> dict:
        with self._lock:
            return {"files": self.files, "bytes": self.bytes, "moved_regions": self.moved_regions, "moved_bytes": self.moved_bytes}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
