"""How seeded traffic reaches ClickHouse: the writers the traffic model in `tracker.seed` emits
into, and the background inserter.

- `_ColumnWriter` (what `seed` uses): one row per visitor with arrays of its events' pool
  indices, sent in ClickHouse's Native format and expanded by one INSERT ... SELECT ... ARRAY
  JOIN per chunk; every pooled column value is taken from `encode_row`'s output for a template
  event (`_derive_pools`), so the stored rows are exactly ingest's.
- `_RowWriter` (what `write_rows` uses): the reference, one `encode_row` row per event as
  JSONEachRow; tests compare the two column by column.
- `_Inserter`: inserts chunks on a background thread while Python builds the next.
The package docstring (`tracker/seed/__init__.py`) explains the design and its measurements.
"""

from __future__ import annotations

import queue
import sys
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

import orjson

from tracker.ingest.rows import Context, build_row, encode_row, event_fields
from tracker.ingest.schema import Order

if TYPE_CHECKING:
    from tracker.seed.shop import Shop

CHUNK_EVENTS = 400_000  # events per INSERT of the column writer (~10 MB of Native columns)
CHUNK_BYTES = 16 * 1024 * 1024  # JSONEachRow bytes per INSERT of the reference row writer

class _Inserter:
    """Inserts chunks on a background thread, so Python builds the next chunk while ClickHouse
    works on the last one (chDB releases the GIL while it works). At most two chunks wait."""

    def __init__(self, insert: Callable):
        self._insert = insert
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="seed-insert", daemon=True)

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._insert(chunk)
                except BaseException as exc:  # re-raised in the producer
                    self._error = exc

    def __call__(self, chunk) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(chunk)

    def __enter__(self) -> _Inserter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error


# --- writers ----------------------------------------------------------------------------------


class _Writer:
    """Where the model's visitors and events go. `count` is the number of events so far (the
    last event's running number)."""

    count: int

    def visitor(self, vid: str, agent: int, network: int, signed: bool = True) -> None:
        raise NotImplementedError

    def emit(self, kind: str, page: int, at_ms: int, *, ref: int = 0, promo: int = 0, env: int = 0, order: Order | None = None) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError


class _RowWriter(_Writer):
    """The reference writer: one Event and one encode_row call per event, JSONEachRow chunks."""

    def __init__(self, shop: Shop, insert: Callable[[bytes], None]):
        self._shop = shop
        self._insert = insert
        self._rows: list[bytes] = []
        self._size = 0
        self.count = 0
        self._ctx: Context | None = None
        self._event_vid = ""

    def visitor(self, vid: str, agent: int, network: int, signed: bool = True) -> None:
        self._ctx = self._shop.context(vid, agent, network, signed)
        self._event_vid = "" if signed else vid

    def emit(self, kind: str, page: int, at_ms: int, *, ref: int = 0, promo: int = 0, env: int = 0, order: Order | None = None) -> None:
        self.count += 1
        event = self._shop.event(kind, self.count, page, vid=self._event_vid, ref=ref, promo=promo, env=env, order=order)
        row = encode_row(event, self._ctx, ts_ms=at_ms)
        self._rows.append(row)
        self._size += len(row)
        if self._size >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._insert(b"".join(self._rows))
            self._rows, self._size = [], 0


# The columns of an events row by the one thing that decides them. POOLED: pool -> (the input
# column holding the entry's index, its columns as (name, the ClickHouse type its values are
# bound as)); "client" is the part of a context encode_row caches per user agent (with site and
# flags). DIRECT: per visitor or per event, from the input rows. Every column encode_row writes
# for seeded traffic must be in one of them (`_derive_pools` checks); the others (client_ts, sid,
# name, props) are never set by the seed and keep their defaults, as in ingest.
_S, _U8, _I8 = "String", "UInt8", "Int8"
POOLED = {
    "client": ("agent", (("site", _S), ("id_forged", _U8), ("ua", _S), ("ua_browser", _S), ("ua_version", _S), ("ua_os", _S),
                        ("ua_device", _S), ("ua_is_bot", _U8), ("ua_headless", _U8), ("has_origin", _U8))),
    "network": ("network", (("ip_prefix", _S), ("ip_hash", _S))),
    "identity": ("identity", (("id_source", _S), ("vid_signed", _U8))),
    "type": ("e_type", (("type", _S),)),
    "page": ("e_page", (("url", _S), ("host", _S), ("path", _S), ("query", _S), ("utm_source", _S), ("utm_medium", _S),
                        ("utm_campaign", _S), ("utm_term", _S), ("utm_content", _S), ("click_id_type", _S))),
    "ref": ("e_ref", (("ref", _S), ("ref_host", _S))),
    "promo": ("e_promo", (("promo_id", _S), ("promo_name", _S), ("promo_creative", _S), ("promo_slot", _S), ("promo_variant", _S))),
    "env": ("e_env", (("env_webdriver", _I8), ("env_screen", _S), ("env_lang", _S), ("env_tz", _S))),
}
DIRECT = {
    "vid": "vid",
    "event_id": "concat({prefix:String}, trimLeft(lower(hex(first_event + e_n - 1)), '0'))",  # f"{prefix}{number:x}"
    "ts": "fromUnixTimestamp64Milli(e_ms, 'UTC')",
    "received_at": "fromUnixTimestamp64Milli({received_ms:Int64}, 'UTC')",
    "order_id": "order_ids[e_order]",  # index 0 (no order) gives the type defaults: '' and 0
    "revenue": "revenues[e_order]",
    "currency": "currencies[e_order]",
    "coupon": "coupons[e_order]",
}


@dataclass(frozen=True)
class _Chunk:
    sql: str
    data: bytes
    params: dict


class _ColumnWriter(_Writer):
    """The fast writer: per visitor one input row (id, pool indices, its first event's number)
    with arrays of its events' pool indices, times and orders, built column by column and sent
    as one Native block per chunk; ClickHouse expands it with `SQL`."""

    INPUT = (  # one row per visitor
        ("vid", "String"), ("agent", "UInt16"), ("network", "UInt16"), ("identity", "UInt8"), ("first_event", "UInt64"),
        # its events: pool indices, times (epoch ms), orders (index into its orders, 0 = none)
        ("types", "Array(UInt8)"), ("times", "Array(Int64)"), ("pages", "Array(UInt16)"), ("refs", "Array(UInt8)"),
        ("promos", "Array(UInt8)"), ("envs", "Array(UInt8)"), ("orders", "Array(UInt8)"),
        # its orders
        ("order_ids", "Array(String)"), ("revenues", "Array(Decimal(18, 4))"), ("currencies", "Array(String)"),
        ("coupons", "Array(String)"),
    )
    STRUCTURE = ", ".join(f"{name} {kind}" for name, kind in INPUT)
    COLUMNS = tuple(c for _, columns in POOLED.values() for c, _ in columns) + tuple(DIRECT)
    SQL = (
        f"INSERT INTO events ({', '.join(COLUMNS)})\n"
        "SELECT " + ",\n       ".join(
            [f"{{pool_{c}:Array({t})}}[{index}]" for index, columns in POOLED.values() for c, t in columns] + list(DIRECT.values())) + "\n"
        "FROM $INPUT\n"
        "ARRAY JOIN types AS e_type, times AS e_ms, pages AS e_page, refs AS e_ref, promos AS e_promo, envs AS e_env, orders AS e_order, "
        "arrayEnumerate(types) AS e_n")
    SIGNED, UNSIGNED = 1, 2  # identity pool entries

    def __init__(self, shop: Shop, insert: Callable[[_Chunk], None]):
        self._shop = shop
        self._insert = insert
        self._params = {"prefix": shop.prefix, "received_ms": shop.end_ms, **_derive_pools(shop)}
        self._type = {kind: i + 1 for i, kind in enumerate(shop.types)}
        self._order_ctx = shop.context("v", 0, 0, True)
        self.count = 0
        self._new_chunk()

    def _new_chunk(self) -> None:
        # per visitor
        self._vids: list[str] = []
        self._agent, self._network, self._identity, self._first = array("H"), array("H"), array("B"), array("Q")
        self._event_start, self._order_start = array("Q"), array("Q")
        # per event
        self._types, self._times, self._pages = array("B"), array("q"), array("H")
        self._refs, self._promos, self._envs, self._orders = array("B"), array("B"), array("B"), array("B")
        # per order
        self._order_ids: list[str] = []
        self._revenues = array("q")  # Decimal(18, 4) as its integer of 1/10000s
        self._currencies: list[str] = []
        self._coupons: list[str] = []

    def visitor(self, vid: str, agent: int, network: int, signed: bool = True) -> None:
        if len(self._types) >= CHUNK_EVENTS:
            self.flush()
        # A visitor replaced before its first event (cookie churn) is an empty row: ARRAY JOIN drops it.
        self._vids.append(vid)
        self._agent.append(agent + 1)
        self._network.append(network + 1)
        self._identity.append(self.SIGNED if signed else self.UNSIGNED)
        self._first.append(self.count + 1)
        self._event_start.append(len(self._types))
        self._order_start.append(len(self._order_ids))

    def emit(self, kind: str, page: int, at_ms: int, *, ref: int = 0, promo: int = 0, env: int = 0, order: Order | None = None) -> None:
        self.count += 1
        self._types.append(self._type[kind])
        self._times.append(at_ms)
        self._pages.append(page + 1)  # ClickHouse arrays count from 1
        self._refs.append(ref + 1)
        self._promos.append(promo + 1)
        self._envs.append(env + 1)
        if order is None:
            self._orders.append(0)
        else:
            self._add_order(kind, page, order)

    def _add_order(self, kind: str, page: int, order: Order) -> None:
        """An order's columns as encode_row writes them (orders are per event, not pooled)."""
        fields = event_fields(self._shop.event(kind, self.count, page, order=order), self._order_ctx)
        self._order_ids.append(fields["order_id"])
        self._revenues.append(int(Decimal(orjson.dumps(fields["revenue"]).decode()).scaleb(4)))  # the JSON number, read as Decimal(18, 4)
        self._currencies.append(fields["currency"])
        self._coupons.append(fields["coupon"])
        self._orders.append(len(self._order_ids) - self._order_start[-1])

    def flush(self) -> None:
        if not self._types:
            return
        events_end = array("Q", self._event_start[1:])
        events_end.append(len(self._types))
        orders_end = array("Q", self._order_start[1:])
        orders_end.append(len(self._order_ids))
        events, orders = _fixed(events_end), _fixed(orders_end)  # each array column starts with its rows' end offsets
        data = {
            "vid": _strings(self._vids), "agent": _fixed(self._agent), "network": _fixed(self._network), "identity": _fixed(self._identity),
            "first_event": _fixed(self._first),
            "types": events + _fixed(self._types), "times": events + _fixed(self._times), "pages": events + _fixed(self._pages),
            "refs": events + _fixed(self._refs), "promos": events + _fixed(self._promos), "envs": events + _fixed(self._envs),
            "orders": events + _fixed(self._orders),
            "order_ids": orders + _strings(self._order_ids), "revenues": orders + _fixed(self._revenues),
            "currencies": orders + _strings(self._currencies), "coupons": orders + _strings(self._coupons),
        }
        block = _native_block(len(self._vids), [(name, kind, data[name]) for name, kind in self.INPUT])
        self._insert(_Chunk(self.SQL, block, self._params))
        self._new_chunk()


def _derive_pools(shop: Shop) -> dict[str, list]:
    """Every pool entry's column values, as the query parameters `_ColumnWriter.SQL` binds
    (`pool_<column>`), taken from the rows encode_row builds for template events: a base event
    and context, and per entry a copy that differs in that entry only. Raises if an entry
    changes a column outside its group, or if encode_row writes a column no group holds."""
    ctx = shop.context("v", 0, 0, True)
    event = shop.event("pageview", 1, 0)
    base = build_row(event, ctx)
    promo_base = build_row(shop.event("promo_view", 1, 0), ctx)  # promos ride on promo events
    variants = {  # pool -> (the row its entries are compared with, one row per entry)
        "client": (base, [build_row(event, shop.context("v", i, 0, True)) for i in range(len(shop.agents))]),
        "network": (base, [build_row(event, shop.context("v", 0, i, True)) for i in range(len(shop.networks))]),
        # _ColumnWriter.SIGNED, .UNSIGNED: an unsigned visitor's events carry its id
        "identity": (base, [build_row(event, ctx), build_row(shop.event("pageview", 1, 0, vid="v"), shop.context("v", 0, 0, False))]),
        "type": (base, [build_row(shop.event(kind, 1, 0), ctx) for kind in shop.types]),
        "page": (base, [build_row(shop.event("pageview", 1, i), ctx) for i in range(len(shop.pages))]),
        "ref": (base, [build_row(shop.event("pageview", 1, 0, ref=i), ctx) for i in range(len(shop.referrers))]),
        "promo": (promo_base, [build_row(shop.event("promo_view", 1, 0, promo=i), ctx) for i in range(len(shop.promos))]),
        "env": (base, [build_row(shop.event("pageview", 1, 0, env=i), ctx) for i in range(len(shop.envs))]),
    }
    order = build_row(shop.event("purchase", 1, 0, order=Order(id="o", revenue=1.5, currency="USD", coupon="C")), ctx)
    params: dict[str, list] = {}
    written = set(base) | set(order)
    for pool, (_, columns) in POOLED.items():
        names = {c for c, _ in columns}
        against, rows = variants[pool]
        for row in rows:
            written |= set(row)
            changed = {k for k in set(row) | set(against) if k not in names and row.get(k) != against.get(k)}
            if changed:
                raise AssertionError(f"seed pool {pool!r}: encode_row changes {sorted(changed)} too; add them to its group")
        for column, kind in columns:
            params[f"pool_{column}"] = [row.get(column, "" if kind == _S else 0) for row in rows]
    if any(row["vid"] != "v" for row in variants["identity"][1]):
        raise AssertionError("seed: a visitor's stored vid must be its own id, signed or not")
    unfilled = written - set(_ColumnWriter.COLUMNS)
    if unfilled:
        raise AssertionError(f"seed: encode_row writes {sorted(unfilled)}, which the column writer does not fill")
    return params


# --- Native format: https://clickhouse.com/docs/interfaces/formats/Native -------------------------
# One block: column count, row count, then per column its name, its type and its values. Fixed
# width numbers are their little-endian bytes; a String is its varint length and bytes; an
# Array is its rows' end offsets (UInt64) and then all elements as one column.


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SHORT = [bytes([n]) for n in range(0x80)]


def _strings(values: list[str]) -> bytes:
    parts = []
    for value in values:
        raw = value.encode()
        parts.append(_SHORT[len(raw)] if len(raw) < 0x80 else _varint(len(raw)))
        parts.append(raw)
    return b"".join(parts)


def _fixed(values: array) -> bytes:
    if sys.byteorder != "little":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def _native_block(rows: int, columns: list[tuple[str, str, bytes]]) -> bytes:
    parts = [_varint(len(columns)), _varint(rows)]
    for name, kind, data in columns:
        parts += [_varint(len(name)), name.encode(), _varint(len(kind)), kind.encode(), data]
    return b"".join(parts)
