"""Storage of confirmations: one `orders` row per confirmed, corrected or refunded order.

Durability: the insert is synchronous — the handler answers only after ClickHouse has
written the part, and the table fsyncs every insert (`fsync_after_insert`, migration 060) —
so a 202 means on disk, the promise `/api/collect` keeps with its spool. The spool is not
reused: it exists to absorb thousands of browser requests a second into few inserts, while a
shop's backend sends one request per order or per batch; a direct insert keeps the path
short, and when storage is down the backend gets a 503 with `Retry-After` and retries (the
endpoint is idempotent), instead of tracker holding orders it cannot yet show.

Idempotence: rows are keyed by (site, order_id) in a ReplacingMergeTree; `version` orders the
confirmations of one order by arrival (receive time in microseconds, then the index in the
request), and readers take the latest with `argMax(..., version)` (`tracker.reports.revenue`),
so what a report shows never depends on whether ClickHouse has merged yet.

Privacy: the order id and the coupon go through the one PII scrub (`tracker.scrub`) as
identifiers, exactly as `/api/collect` stores the browser's `order.id` and `order.coupon`
(`tracker/ingest/rows.py`): an e-mail address becomes `[email]`, a numeric order id stays
itself. The same input is stored the same way on both sides, so a confirmation still joins
its browser purchase by order id after scrubbing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson

from tracker.orders.schema import Order
from tracker.scrub import ID, scrub
from tracker.storage.client import Storage

TABLE = "orders"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def encode_rows(site: str, orders: list[tuple[int, Order]], *, token_id: str, now_us: int | None = None) -> bytes:
    """JSONEachRow lines for the orders of one request (pure: tested without a database)."""
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    received = datetime.fromtimestamp(now_us / 1_000_000, UTC)
    lines = []
    for index, order in orders:
        lines.append(orjson.dumps({
            "site": site,
            "order_id": scrub(order.id, ID),
            "status": order.status,
            "revenue": str(order.revenue),  # a string: ClickHouse parses it into Decimal exactly
            "currency": order.currency,
            "coupon": scrub(order.coupon, ID),
            "ordered_at": _iso(order.ordered_at or received),
            "received_at": _iso(received),
            "token_id": token_id,
            "version": now_us * 1000 + index,
        }))
    return b"\n".join(lines) + b"\n" if lines else b""


def save(storage: Storage, site: str, orders: list[tuple[int, Order]], *, token_id: str) -> int:
    """Insert the confirmations; returns when ClickHouse has them on disk (blocking)."""
    data = encode_rows(site, orders, token_id=token_id)
    storage.insert_jsonl(TABLE, data, what="storing confirmed orders")
    return len(orders)

