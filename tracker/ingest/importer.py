"""Trusted backfill: JSON lines -> events rows, inserted straight into ClickHouse.

Each line is an event as `/api/collect` takes it (`tracker.ingest.schema.Event`) plus required
`vid` and `ts` (epoch ms or ISO 8601), and optional `ip` and `ua`, enriched exactly as live traffic is (UA parsing, IP prefix + salted
hash, URL scrubbing) by the same row builder. The line's `ts` is both event and client time;
its `vid` counts as server-issued. Bad lines are reported with their line number and skipped.

Encoding a line costs ~5 us of Python on the plain-line fast path (ASCII, no escapes, epoch-ms
`ts`, only known fields) and ~10 us on the general path that every other line takes, so a
large chunk is cut into pieces for a pool of worker processes (spawned, not forked: the parent
runs the storage engine's threads) that each run this same code and leave their rows in a
temporary file; the parent only concatenates them and inserts them.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import tempfile
import threading
import time
import typing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import msgspec
import orjson

from tracker.ingest.network import Network
from tracker.ingest.rows import Context, client_fragment, encode_import_row, encode_row, network_fragment
from tracker.ingest.schema import ID_PATTERN, ID_RE, MAX_ID_LEN, Env, Event, EventError, Order, Promo, finish_event, parse_event
from tracker.ingest.useragent import AgentParser

if TYPE_CHECKING:  # the worker processes need no storage driver
    from tracker.storage.client import Storage

MAX_LINE_BYTES = 64 * 1024


@dataclass
class ImportResult:
    accepted: int = 0
    errors: list[dict] = field(default_factory=list)  # {"line": n, "error": "..."}
    encoded: int = 0  # rows made (accepted once stored)


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


# --- the plain-line fast path -------------------------------------------------------------------
# Most lines of an export are plain: ASCII without escapes, `ts` in epoch ms, only known fields.
# Such a line is decoded by msgspec straight into a strict struct (JSON and every `Event`
# constraint in one C pass) instead of orjson + checks + `msgspec.convert`, and its row is built
# without a `Context`. Any line the fast path is not sure of -- a decode or validation failure,
# non-ASCII bytes, a backslash (escapes: surrogates, control characters), DEL, a null, an ISO or
# fractional `ts`, an unknown field, an integer orjson would read as a float -- goes through the
# general path below, which stays the one source of every rejection message.


def _strict(kind: type, name: str, changes: dict | None = None, extra: tuple = ()) -> type:
    """`kind`'s fields, as a struct that rejects unknown fields (so nothing is skipped unread);
    `changes` maps a field to its new (annotation, default), `msgspec.NODEFAULT` for required."""
    fields: list[tuple] = []
    for f in msgspec.structs.fields(kind):
        default = f.default if f.default_factory is msgspec.NODEFAULT else msgspec.field(default_factory=f.default_factory)
        annotation, default = (changes or {}).get(f.name, (f.type, default))
        fields.append((f.name, annotation) if default is msgspec.NODEFAULT else (f.name, annotation, default))
    return msgspec.defstruct(name, fields + list(extra), forbid_unknown_fields=True, kw_only=True, frozen=True)


def _unpatterned(annotation, pattern: str):
    """`Annotated[str, Meta(...)]` without its regex, which must be `pattern`: msgspec runs a
    pattern through Python's `re` (~0.45 us a field, a fifth of the decode); the fast path
    checks these few with string methods instead (`_is_id`, `_is_http`)."""
    base, *metas = typing.get_args(annotation)
    kept = []
    for meta in metas:
        if meta.pattern != pattern or any(getattr(meta, k) is not None for k in ("gt", "ge", "lt", "le", "multiple_of", "tz")):
            raise RuntimeError(f"the import fast path does not know the constraint {meta!r}: update importer.py")
        limits = {k: getattr(meta, k) for k in ("min_length", "max_length") if getattr(meta, k) is not None}
        if limits:
            kept.append(msgspec.Meta(**limits))
    return Annotated[(base, *kept)] if kept else base


def _is_id(text: str) -> bool:
    """ID_PATTERN for the ASCII, newline-free strings of a plain line."""
    return len(text) <= 64 and text[:1].isalnum() and text.replace("-", "a").replace(".", "a").replace("_", "a").replace(":", "a").isalnum()


_HTTP = ("http://", "https://")
_EVENT_TYPES = {f.name: f.type for f in msgspec.structs.fields(Event)}
_StrictPromo = _strict(Promo, "_StrictPromo")
_StrictOrder = _strict(Order, "_StrictOrder")
_StrictEnv = _strict(Env, "_StrictEnv")
# An import line: an Event whose `vid` (the visitor) and `ts` (epoch ms, this fast path's only
# form) are required, plus `ip` and `ua`; nested parts are as strict as the line. The regexes of
# `id`, `vid`, `url` and `ref` are checked in `_encode_plain`.
_PlainLine = _strict(Event, "_PlainLine", {
    "id": (_unpatterned(_EVENT_TYPES["id"], ID_PATTERN), msgspec.NODEFAULT),
    "url": (_unpatterned(_EVENT_TYPES["url"], r"^https?://"), msgspec.NODEFAULT),
    "ref": (_unpatterned(_EVENT_TYPES["ref"], r"^(https?://.*)?$"), ""),
    "vid": (str, msgspec.NODEFAULT),
    "ts": (int, msgspec.NODEFAULT),
    "promo": (_StrictPromo | None, None),
    "order": (_StrictOrder | None, None),
    "env": (_StrictEnv | None, None),
}, extra=(("ip", str, ""), ("ua", str, "")))
_decode_plain = msgspec.json.Decoder(_PlainLine).decode
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # orjson reads integers outside this range as floats


PARALLEL_MIN_LINES = 4_000  # below this a chunk is encoded in-process
PARALLEL_MIN_BYTES = 1024 * 1024  # from this size a chunk goes to the workers uncounted (~8 ms a 24 MiB count)
_worker: Importer | None = None


def _init_worker(salt_path: str, v4_prefix: int, v6_prefix: int, ua_cache: int) -> None:
    global _worker
    from tracker.ingest.network import DailySalt

    network = Network(trusted_proxies=(), v4_prefix=v4_prefix, v6_prefix=v6_prefix, salt=DailySalt(Path(salt_path)))
    _worker = Importer(None, AgentParser(ua_cache), network)  # type: ignore[arg-type]


def _encode_in_worker(site: str, piece: bytes, first_line: int) -> tuple[str, list[dict], int]:
    """A piece of a chunk, whole lines joined by "\n" (one bytes object to pickle, not a list
    of tens of thousands of lines). The rows come back in a temporary file, whose path is
    returned: a result of tens of MB through the pool's pipe cost the parent ~3x the CPU of
    reading it from a file (CPython reads a large message 64 KiB at a time into a buffer
    allocated at the whole remaining size, under the GIL)."""
    assert _worker is not None
    result = ImportResult()
    payload = _worker.encode_lines(site, piece.split(b"\n"), first_line, result)
    fd, path = tempfile.mkstemp(prefix="tracker-import-", suffix=".jsonl")
    with os.fdopen(fd, "wb") as out:
        out.write(payload)
    return path, result.errors, result.encoded


def _take(path: str) -> bytes:
    """The rows a worker left in `path`; the file is gone afterwards."""
    try:
        with open(path, "rb") as rows:
            return rows.read()
    finally:
        os.unlink(path)


def _pieces(body: bytes, parts: int) -> list[tuple[int, bytes]]:
    """`body` cut at line ends into about `parts` pieces of similar size, each with the number
    of lines before it: together their `split(b"\n")` is `body.split(b"\n")`."""
    pieces, start, before = [], 0, 0
    for k in range(1, parts):
        cut = body.find(b"\n", max(start, len(body) * k // parts))
        if cut < 0:
            break
        pieces.append((before, body[start:cut]))
        before += body.count(b"\n", start, cut) + 1
        start = cut + 1
    pieces.append((before, body[start:]))
    return pieces


class ImportPool:
    """The worker processes of large imports: spawned on first use (each is an interpreter
    start, and most processes never import), shut down with the runtime (`runtime.import_pool`)."""

    def __init__(self, settings, salt_path: Path):
        self.workers = min(8, os.cpu_count() or 1)  # a one-core machine encodes in-process
        self._initargs = (str(salt_path), settings.ipv4_prefix, settings.ipv6_prefix, settings.ua_cache_size)
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def parallel(self) -> bool:
        return self.workers >= 2

    def submit(self, fn, /, *args) -> Future:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_init_worker,
                    initargs=self._initargs,
                )
            return self._executor.submit(fn, *args)

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class Importer:
    def __init__(self, storage: Storage, agents: AgentParser, network: Network, pool: ImportPool | None = None):
        self.storage = storage
        self.agents = agents
        self.network = network
        self.pool = pool

    def encode_lines(self, site: str, lines: list[bytes], first_line: int, result: ImportResult) -> bytes:
        rows = []
        now_ms = int(time.time() * 1000)
        latest_ms = now_ms + 86_400_000
        clients: dict[str, bytes] = {}  # user agent -> its client fragment, for this chunk
        visitors: set[str] = set()  # vids already found valid in this chunk
        describe, parse_agent = self.network.describe, self.agents.parse
        for offset, line in enumerate(lines):
            if line.isascii() and b"\\" not in line and b"\x7f" not in line and len(line) <= MAX_LINE_BYTES:
                try:
                    plain = _decode_plain(line)
                except msgspec.DecodeError:  # also ValidationError: the general path says why
                    plain = None
                if plain is not None and 946_684_800_000 <= plain.ts <= latest_ms:
                    row = self._encode_plain(site, plain, clients, visitors, describe, parse_agent)
                    if row is not None:
                        rows.append(row)
                        continue
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
        result.encoded += len(rows)
        return b"".join(rows)

    @staticmethod
    def _encode_plain(site: str, plain, clients: dict[str, bytes], visitors: set[str], describe, parse_agent) -> bytes | None:
        """The row of a line `_decode_plain` accepted, or None when the general path must decide."""
        # The patterns `_PlainLine` leaves out, for strings that are ASCII and have no newline.
        if not (_is_id(plain.id) and plain.url.startswith(_HTTP) and (not plain.ref or plain.ref.startswith(_HTTP))):
            return None
        if plain.vid not in visitors:
            if not _is_id(plain.vid):
                return None
            visitors.add(plain.vid)
        props = plain.props
        if props and any(v.__class__ is int and not _INT_MIN <= v <= _INT_MAX for v in props.values()):
            return None
        promo, order, env = plain.promo, plain.order, plain.env
        try:
            event = finish_event(Event(
                type=plain.type, id=plain.id, url=plain.url, ts=float(plain.ts), ref=plain.ref, sid=plain.sid, name=plain.name,
                promo=None if promo is None else Promo(
                    id=promo.id, name=promo.name, creative=promo.creative, slot=promo.slot, variant=promo.variant),
                order=None if order is None else Order(id=order.id, revenue=order.revenue, currency=order.currency, coupon=order.coupon),
                props=props,
                env=None if env is None else Env(webdriver=env.webdriver, screen=env.screen, lang=env.lang, tz=env.tz),
            ))
        except EventError:
            return None
        ip = plain.ip
        prefix, ip_hash = describe(ip) if ip else ("", "")
        if ip and not prefix:
            return None
        client = clients.get(plain.ua)
        if client is None:
            client = clients[plain.ua] = client_fragment(site, parse_agent(plain.ua), False, True)
        return encode_import_row(event, client + network_fragment(prefix, ip_hash), plain.vid, plain.ts)

    def encode_parallel(self, site: str, body: bytes, first_line: int, result: ImportResult) -> bytes:
        """The rows of the lines of `body` (joined by "\n"), across the worker processes when
        it is large enough to pay for them."""
        if self.pool is None or not self.pool.parallel or len(body) < PARALLEL_MIN_BYTES and body.count(b"\n") + 1 < PARALLEL_MIN_LINES:
            return self.encode_lines(site, body.split(b"\n"), first_line, result)
        self.network.describe("0.0.0.0")  # today's salt exists on disk before the workers read it
        parts = self.pool.workers
        futures = [self.pool.submit(_encode_in_worker, site, piece, first_line + before) for before, piece in _pieces(body, parts)]
        payloads = []
        try:
            for future in futures:
                path, errors, encoded = future.result()
                payloads.append(_take(path))
                result.errors.extend(errors)
                result.encoded += encoded
        except BaseException:
            for future in futures:  # the other pieces' files must not stay behind
                with contextlib.suppress(BaseException):
                    os.unlink(future.result()[0])
            raise
        return b"".join(payloads)

    def import_body(self, site: str, body: bytes, first_line: int) -> ImportResult:
        """Import the lines of `body` (a request's bytes), the first numbered `first_line`."""
        result = ImportResult()
        payload = self.encode_parallel(site, body, first_line, result)
        if payload:
            self.storage.insert_jsonl("events", payload, what="importing events", plain_dictionaries=True)
            result.accepted = result.encoded
        return result

    def import_chunk(self, site: str, lines: list[bytes], first_line: int) -> ImportResult:
        """`import_body` of these lines (none of which holds a "\n")."""
        return self.import_body(site, b"\n".join(lines), first_line)
