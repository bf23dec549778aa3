"""The spool's record format, and reading it back even when some of it is damaged.

    b"TS" | u32 payload length | u32 crc32(payload) | payload

`read_records` reads whole records from the start and stops at the first bad one (the shape
of a file the sync thread is still writing). `scan` reads a whole file that may be damaged:
where a record fails (bad magic, a length past the end, a checksum mismatch) it resynchronises
on the next offset that starts a valid record (magic, a length that fits, and a matching
CRC32 — a false match inside a payload would need a 1-in-2^32 checksum collision), so one
damaged record costs only its own bytes, never the records after it.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"TS"
HEADER = struct.Struct(">2sII")


@dataclass(frozen=True)
class Segment:
    """A sealed segment as the flusher reads it: its intact records and its size on disk."""

    path: Path
    records: list[bytes]  # each one request's rows, JSONEachRow
    size: int

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def payload(self) -> bytes:
        return b"".join(self.records)


@dataclass(frozen=True)
class Scan:
    """What `scan` found: the intact records, and the damaged byte ranges (offset, bytes)."""

    records: list[bytes]
    damaged: list[tuple[int, bytes]]

    @property
    def damaged_bytes(self) -> int:
        return sum(len(b) for _, b in self.damaged)


def encode_record(payload: bytes) -> bytes:
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _record_at(data: bytes, pos: int) -> bytes | None:
    """The payload of a valid record starting at `pos`, else None."""
    if pos + HEADER.size > len(data):
        return None
    magic, length, crc = HEADER.unpack_from(data, pos)
    end = pos + HEADER.size + length
    if magic != MAGIC or end > len(data):
        return None
    payload = data[pos + HEADER.size:end]
    return payload if zlib.crc32(payload) == crc else None


def read_records(data: bytes) -> tuple[list[bytes], int]:
    """Whole, checksum-valid records from the start of `data`, and the byte length they span."""
    records, pos = [], 0
    while (payload := _record_at(data, pos)) is not None:
        records.append(payload)
        pos += HEADER.size + len(payload)
    return records, pos


def scan(data: bytes) -> Scan:
    """Every intact record of `data`, resynchronising past damage; the damaged ranges."""
    records: list[bytes] = []
    damaged: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(data):
        payload = _record_at(data, pos)
        if payload is not None:
            records.append(payload)
            pos += HEADER.size + len(payload)
            continue
        start, probe = pos, pos + 1
        while True:
            probe = data.find(MAGIC, probe)
            if probe < 0:
                probe = len(data)
                break
            if _record_at(data, probe) is not None:
                break
            probe += 1
        damaged.append((start, data[start:probe]))
        pos = probe
    return Scan(records, damaged)
