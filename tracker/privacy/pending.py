"""A visitor's rows that are still in the spool (accepted, not yet flushed to ClickHouse).

The spool holds one checksummed record per accepted request, each record some JSONEachRow
lines. Reading and rewriting happen while the flusher is paused (`flusher.paused()`), so a
segment cannot be inserted and deleted under our feet; the open segment is sealed first, so
every acknowledged row is in a sealed segment we may rewrite. A cheap byte search skips
records that cannot mention the visitor before any JSON is parsed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson

from tracker.ingest.spool import Spool, read_records

SEAL_WAIT_SECONDS = 5.0


def _needle(vid: str) -> bytes:
    return orjson.dumps(vid)[1:-1]  # the id as it appears inside a JSON string


def _matches(line: bytes, vid: str, site: str | None) -> bool:
    try:
        row = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return isinstance(row, dict) and row.get("vid") == vid and (site is None or row.get("site") == site)


def _segment_files(spool: Spool) -> Iterator[Path]:
    yield from sorted(p for p in spool.dir.iterdir() if p.suffix in (".ready", ".open"))


def _read(path: Path) -> list[bytes]:
    for candidate in (path, path.with_suffix(".ready")):  # an .open file may be sealed meanwhile
        try:
            return read_records(candidate.read_bytes())[0]
        except FileNotFoundError:
            continue
    return []  # flushed and released meanwhile: the rows are in ClickHouse now


def find(spool: Spool, vid: str, site: str | None = None) -> list[dict]:
    """The visitor's rows waiting in the spool (open and sealed segments)."""
    needle, found = _needle(vid), []
    spool.write_pending()  # records the sync thread has not written yet live only in memory
    for path in _segment_files(spool):
        for record in _read(path):
            if needle not in record:
                continue
            found.extend(orjson.loads(line) for line in record.splitlines() if line.strip() and _matches(line, vid, site))
    return found


def _size(path: Path) -> int:
    """Bytes in a segment file; 0 when the spool's thread sealed (renamed) it meanwhile."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def seal_open_segment(spool: Spool) -> None:
    """Make the segment being appended to a sealed one, so it can be rewritten."""
    spool.write_pending()
    open_now = [p for p in spool.dir.glob("*.open") if _size(p) > 0]
    if not open_now:
        return
    spool.request_seal()
    deadline = time.monotonic() + SEAL_WAIT_SECONDS
    while any(p.exists() for p in open_now) and time.monotonic() < deadline:
        spool.request_seal()
        time.sleep(0.005)


def remove(spool: Spool, vid: str, site: str | None = None) -> int:
    """Drop the visitor's rows from every sealed segment; returns the rows dropped.

    The caller holds `flusher.paused()` and has called `seal_open_segment`.
    """
    needle, removed = _needle(vid), 0
    for path in spool.ready_segments():
        try:
            segment = spool.read(path)
        except FileNotFoundError:
            continue
        if not any(needle in r for r in segment.records):
            continue
        kept_records = []
        for record in segment.records:
            if needle not in record:
                kept_records.append(record)
                continue
            lines = record.splitlines(keepends=True)
            kept = [line for line in lines if not (line.strip() and _matches(line, vid, site))]
            removed += len(lines) - len(kept)
            if kept:
                kept_records.append(b"".join(kept))
        spool.rewrite(segment, kept_records)
    return removed
