"""Parse at the door: a `POST /api/orders` body -> a frozen `OrderBatch`, or a clear 4xx.

The shop's backend is a trusted sender, but its body is still input: every field is typed and
bounded here, unknown fields are refused (a misspelt `revnue` must be an error, not an order
of 0), and a bad order is rejected with its index while the rest of the batch is kept, as
`/api/collect` does. Server-derived facts (receive time, the token) are not fields of `Order`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Literal

import msgspec
import orjson

from tracker.errors import BadRequest, PayloadTooLarge
from tracker.http import DUPLICATE_KEYS
from tracker.vocabulary import check_site_id

MAX_BODY_BYTES = 1024 * 1024  # 1,000 orders of a few hundred bytes each, with room to spare
MAX_ORDERS = 1000
MAX_ORDER_ID_LEN = 200  # the browser's `order.id` limit (tracker.ingest.schema.MAX_TEXT_LEN)
MAX_COUPON_LEN = 200
# A confirmed order may be larger than a browser purchase may claim (10,000,000): the sender
# is the shop. The bound keeps Decimal(18, 4) far from overflowing when orders are summed.
MAX_ORDER_REVENUE = Decimal("10000000000")
MIN_TS_MS = 946_684_800_000  # 2000-01-01
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
STATUSES = ("paid", "refunded")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DECIMAL = re.compile(r"^\d{1,11}(\.\d{1,4})?$")
_CENTS = Decimal("0.0001")


class RawOrder(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One order as the backend sent it (before the checks msgspec cannot express)."""

    id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ORDER_ID_LEN)]
    revenue: float | str
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z]{3}$")]
    status: Literal[STATUSES]  # type: ignore[valid-type]
    coupon: Annotated[str, msgspec.Meta(max_length=MAX_COUPON_LEN)] = ""
    ts: float | str | None = None  # epoch ms, or an ISO 8601 time


@dataclass(frozen=True, slots=True)
class Order:
    """A valid confirmation: money as an exact Decimal, codes normalised, time resolved."""

    id: str
    revenue: Decimal
    currency: str
    status: str
    coupon: str
    ordered_at: datetime | None  # None: the receive time stands in


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    error: str


@dataclass(frozen=True, slots=True)
class OrderBatch:
    site: str
    orders: tuple[tuple[int, Order], ...]  # (index in the request, order)
    rejected: tuple[Rejection, ...]


class OrderError(ValueError):
    """One order is invalid; the rest of the batch stands."""


def decode_json(body: bytes) -> object:
    """Strict JSON: invalid UTF-8, NaN/Infinity and duplicate keys are a 400. Orders are few,
    so the exact duplicate-key check (stdlib pairs hook) always runs after orjson's parse."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        value = orjson.loads(body)
        DUPLICATE_KEYS.decode(body.decode("utf-8"))
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc.args[0] if exc.args else 'parse error'}") from None
    except RecursionError:
        raise BadRequest("body is nested too deeply") from None
    return value


def _money(raw: float | str) -> Decimal:
    if isinstance(raw, str):
        if not _DECIMAL.match(raw):
            raise OrderError("revenue must be a number or a decimal string like \"12.50\" (at most 4 decimals)")
        value = Decimal(raw)
    else:
        try:
            value = Decimal(repr(float(raw)))  # repr: the shortest decimal that is this float
        except (InvalidOperation, ValueError, OverflowError):
            raise OrderError("revenue must be a finite number") from None
    if not value.is_finite() or value < 0:
        raise OrderError("revenue must be a number >= 0")
    if value > MAX_ORDER_REVENUE:
        raise OrderError(f"revenue must be at most {MAX_ORDER_REVENUE}")
    return value.quantize(_CENTS)


def _time(raw: float | str | None) -> datetime | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise OrderError("ts must be epoch milliseconds or an ISO 8601 time, e.g. 2026-03-02T10:00:00Z") from None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        ms = value.timestamp() * 1000
    else:
        ms = float(raw)
    if not MIN_TS_MS <= ms <= MAX_TS_MS:
        raise OrderError("ts must be between 2000-01-01 and 2100-01-01")
    return datetime.fromtimestamp(ms / 1000, UTC)


def _message(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    if " - at `$." in text:
        text, _, where = text.partition(" - at `$.")
        return f"{where.rstrip('`')}: {text[0].lower()}{text[1:]}"
    return text[0].lower() + text[1:] if text else "invalid order"


def parse_order(raw: object) -> Order:
    """A decoded JSON order -> Order, or OrderError with a human message."""
    if not isinstance(raw, dict):
        raise OrderError("order must be an object")
    raw = {k: v for k, v in raw.items() if v is not None}  # `"coupon": null` means absent
    try:
        order = msgspec.convert(raw, RawOrder)
    except msgspec.ValidationError as exc:
        raise OrderError(_message(exc)) from None
    if _CONTROL.search(order.id) or _CONTROL.search(order.coupon):
        raise OrderError("strings must not contain control characters")
    if isinstance(order.revenue, bool):
        raise OrderError("revenue must be a number")
    return Order(
        id=order.id,
        revenue=_money(order.revenue),
        currency=order.currency.upper(),
        status=order.status,
        coupon=order.coupon.strip().upper(),  # as ingest normalises the browser's coupon
        ordered_at=_time(order.ts),
    )


def parse_batch(body: bytes) -> OrderBatch:
    """The whole request: 400 for a body that is not the documented shape, 413 over the
    limits, per-order rejections for orders that are not valid."""
    payload = decode_json(body)
    if not isinstance(payload, dict):
        raise BadRequest('body must be a JSON object: {"site": ..., "orders": [...]}')
    unknown = set(payload) - {"site", "orders"}
    if unknown:
        raise BadRequest(f"unknown field {sorted(unknown)[0]!r}: the body is {{\"site\": ..., \"orders\": [...]}}")
    site = check_site_id(payload.get("site"))
    orders = payload.get("orders")
    if not isinstance(orders, list):
        raise BadRequest("orders must be a list")
    if len(orders) > MAX_ORDERS:
        raise PayloadTooLarge(f"at most {MAX_ORDERS} orders per request")
    good: list[tuple[int, Order]] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(orders):
        try:
            good.append((index, parse_order(raw)))
        except OrderError as exc:
            rejected.append(Rejection(index, str(exc)))
    return OrderBatch(site=site, orders=tuple(good), rejected=tuple(rejected))
