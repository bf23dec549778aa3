"""Trusted backfill: JSON lines -> events rows, inserted straight into ClickHouse.

Each line is a CONTRACT §2 event plus required `vid` and `ts` (epoch ms or ISO 8601), and
optional `ip` and `ua`, enriched exactly as live traffic is (UA parsing, IP prefix + salted
hash, URL scrubbing) by the same row builder. The line's `ts` is both event and client time;
its `vid` counts as server-issued. Bad lines are reported with their line number and skipped.

Encoding a line costs ~10-20 us of Python, so a large chunk is split across a pool of worker
processes (spawned, not forked: the parent runs the storage engine's threads) that each run
this same code; the parent only concatenates their bytes and inserts them.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from tracker.ingest.network import Network
from tracker.ingest.rows import Context, encode_row
from tracker.ingest.schema import ID_RE, MAX_ID_LEN, EventError, parse_event
from tracker.ingest.useragent import AgentParser
from tracker.storage.client import Storage

MAX_LINE_BYTES = 64 * 1024


@dataclass
class ImportResult:
    accepted: int = 0
    errors: list[dict] = field(default_factory=list)  # {"line": n, "error": "..."}


def _ts_ms(raw: object) -> int:
    if isinstance(raw, bool):
        raise EventError("ts must be epoch milliseconds or an ISO 8601 time")
    if isinstance(raw, (int, float)) and math.isfinite(raw):
        return int(raw)
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise EventError("ts must be epoch milliseconds or an ISO 8601 time") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    raise EventError("ts is required (epoch milliseconds or ISO 8601)")


PARALLEL_MIN_LINES = 4_000  # below this a chunk is encoded in-process
_worker: Importer | None = None


def _init_worker(salt_path: str, v4_prefix: int, v6_prefix: int, ua_cache: int) -> None:
    global _worker
    from pathlib import Path

    from tracker.ingest.network import DailySalt

    network = Network(trusted_proxies=(), v4_prefix=v4_prefix, v6_prefix=v6_prefix, salt=DailySalt(Path(salt_path)))
    _worker = Importer(None, AgentParser(ua_cache), network)  # type: ignore[arg-type]


def _encode_in_worker(site: str, lines: list[bytes], first_line: int) -> tuple[bytes, list[dict]]:
    assert _worker is not None
    result = ImportResult()
    payload = _worker.encode_lines(site, lines, first_line, result)
    return payload, result.errors


def start_pool(settings, salt_path) -> ProcessPoolExecutor | None:
    """Worker processes for large imports (None on a one-core machine)."""
    workers = min(8, os.cpu_count() or 1)
    if workers < 2:
        return None
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(str(salt_path), settings.ipv4_prefix, settings.ipv6_prefix, settings.ua_cache_size),
    )


class Importer:
    def __init__(self, storage: Storage, agents: AgentParser, network: Network, pool: ProcessPoolExecutor | None = None):
        self.storage = storage
        self.agents = agents
        self.network = network
        self.pool = pool

    def encode_lines(self, site: str, lines: list[bytes], first_line: int, result: ImportResult) -> bytes:
        rows = []
        now_ms = int(time.time() * 1000)
        for offset, line in enumerate(lines):
            number = first_line + offset
            if not line.strip():
                continue
            try:
                if len(line) > MAX_LINE_BYTES:
                    raise EventError(f"line is longer than {MAX_LINE_BYTES} bytes")
                try:
                    raw = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise EventError(f"not valid JSON ({exc.args[0] if exc.args else 'parse error'})") from None
                if not isinstance(raw, dict):
                    raise EventError("line must be a JSON object")
                vid = raw.get("vid")
                if not isinstance(vid, str) or not vid or len(vid) > MAX_ID_LEN or not ID_RE.match(vid):
                    raise EventError("vid is required (1-64 letters, digits or . _ : -)")
                ts = _ts_ms(raw.get("ts"))
                if not 946_684_800_000 <= ts <= now_ms + 86_400_000:
                    raise EventError("ts is out of range (before 2000 or in the future)")
                ip = raw.get("ip")
                ua = raw.get("ua")
                if ip is not None and not isinstance(ip, str) or ua is not None and not isinstance(ua, str):
                    raise EventError("ip and ua must be strings")
                del raw["vid"]
                raw.pop("ip", None)
                raw.pop("ua", None)
                raw["ts"] = ts
                event = parse_event(raw, may_have_control=b"\\" in line or b"\x7f" in line)
                prefix, ip_hash = self.network.describe(ip) if ip else ("", "")
                if ip and not prefix:
                    raise EventError("ip is not an IP address")
                ctx = Context(
                    site=site,
                    received_ms=ts,
                    vid=vid,
                    id_source="import",
                    agent=self.agents.parse(ua or ""),
                    ip_prefix=prefix,
                    ip_hash=ip_hash,
                    has_origin=True,
                )
                rows.append(encode_row(event, ctx, ts_ms=ts))
            except EventError as exc:
                result.errors.append({"line": number, "error": str(exc)})
        return b"".join(rows)

    def encode_parallel(self, site: str, lines: list[bytes], first_line: int, result: ImportResult) -> bytes:
        if self.pool is None or len(lines) < PARALLEL_MIN_LINES:
            return self.encode_lines(site, lines, first_line, result)
        self.network.describe("0.0.0.0")  # today's salt exists on disk before the workers read it
        parts = self.pool._max_workers  # type: ignore[attr-defined]
        size = -(-len(lines) // parts)
        futures = [self.pool.submit(_encode_in_worker, site, lines[i:i + size], first_line + i) for i in range(0, len(lines), size)]
        payloads = []
        for future in futures:
            payload, errors = future.result()
            payloads.append(payload)
            result.errors.extend(errors)
        return b"".join(payloads)

    def import_chunk(self, site: str, lines: list[bytes], first_line: int) -> ImportResult:
        result = ImportResult()
        payload = self.encode_parallel(site, lines, first_line, result)
        if payload:
            self.storage.insert_jsonl("events", payload, what="importing events", plain_dictionaries=True)
            result.accepted = payload.count(b"\n")
        return result
