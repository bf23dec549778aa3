"""Parse at the door: request bytes -> frozen `Batch` of `Event`s, or a clear rejection.

Limits are the named constants below; tests exercise each one just under and just over.
Nothing server-derived (IP, user agent, site registration, receive time, signed visitor id)
is a field of `Event`: a client cannot set it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

import orjson

from tracker.errors import BadRequest, PayloadTooLarge

MAX_BODY_BYTES = 64 * 1024
MAX_EVENTS = 100
MAX_SITE_LEN = 64
MAX_ID_LEN = 64
MAX_URL_LEN = 2048
MAX_TEXT_LEN = 200  # names, promo fields, order ids, coupons, env strings
MAX_PROPS = 25
MAX_PROP_KEY_LEN = 64
MAX_PROP_VALUE_LEN = 500
MAX_REVENUE = 10_000_000.0
# Client clock may be off, but not by years: outside this window the client ts is dropped.
MIN_CLIENT_TS_MS = 946_684_800_000  # 2000-01-01
MAX_CLIENT_TS_MS = 4_102_444_800_000  # 2100-01-01

EVENT_TYPES = frozenset({"pageview", "promo_view", "promo_click", "add_to_cart", "checkout", "purchase", "custom"})
PROMO_TYPES = frozenset({"promo_view", "promo_click"})
VARIANTS = frozenset({"exposed", "holdout"})

SITE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Promo:
    id: str
    name: str = ""
    creative: str = ""
    slot: str = ""
    variant: str = ""


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    revenue: float
    currency: str = ""
    coupon: str = ""


@dataclass(frozen=True, slots=True)
class Env:
    webdriver: int = -1  # -1 unknown
    screen: str = ""
    lang: str = ""
    tz: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    id: str
    url: str
    ts: int | None = None  # client epoch ms
    ref: str = ""
    sid: str = ""
    vid: str = ""
    name: str = ""
    promo: Promo | None = None
    order: Order | None = None
    props: tuple[tuple[str, str], ...] = ()
    env: Env | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    error: str


@dataclass(frozen=True, slots=True)
class Batch:
    site: str
    events: tuple[tuple[int, Event], ...]  # (index in the request, event)
    rejected: tuple[Rejection, ...]


class EventError(ValueError):
    """One event is invalid; the rest of the batch stands."""


# --- decoding ---------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise BadRequest(f"duplicate key {dup!r} in a JSON object")
    return obj


# The stdlib scanner is used only as a second pass for its object hook: orjson already proved
# the text is strict JSON (UTF-8, no NaN, no lone surrogates, bounded depth).
_DUPLICATE_CHECKER = json.JSONDecoder(object_pairs_hook=_no_duplicates)


def decode_json(body: bytes) -> object:
    """Strict JSON: invalid UTF-8, NaN/Infinity, lone surrogates, deep nesting and duplicate
    keys are all a 400."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc.args[0] if exc.args else 'parse error'}") from None
    if b'"' in body:  # only objects with keys can hold duplicates
        _DUPLICATE_CHECKER.decode(body.decode("utf-8"))
    return value


# --- validation -------------------------------------------------------------------------------


def _text(obj: dict, key: str, limit: int, *, required: bool = False) -> str:
    value = obj.get(key)
    if value is None:
        if required:
            raise EventError(f"{key} is required")
        return ""
    if not isinstance(value, str):
        raise EventError(f"{key} must be a string")
    if len(value) > limit:
        raise EventError(f"{key} is longer than {limit} characters")
    if _CONTROL.search(value):
        raise EventError(f"{key} contains control characters")
    if required and not value:
        raise EventError(f"{key} must not be empty")
    return value


def _url(obj: dict, key: str, *, required: bool) -> str:
    value = _text(obj, key, MAX_URL_LEN, required=required)
    if value and not (value.startswith("https://") or value.startswith("http://")):
        raise EventError(f"{key} must be an absolute http(s) URL")
    return value


def _object(obj: dict, key: str) -> dict | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise EventError(f"{key} must be an object")
    return value


def parse_event(raw: object) -> Event:
    if not isinstance(raw, dict):
        raise EventError("event must be an object")
    kind = raw.get("type")
    if kind not in EVENT_TYPES:
        raise EventError(f"type must be one of {', '.join(sorted(EVENT_TYPES))}")
    event_id = _text(raw, "id", MAX_ID_LEN, required=True)
    if not ID_RE.match(event_id):
        raise EventError("id must be 1-64 letters, digits or . _ : -")
    url = _url(raw, "url", required=True)

    ts = raw.get("ts")
    if ts is not None:
        if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(ts):
            raise EventError("ts must be epoch milliseconds")
        ts = int(ts) if MIN_CLIENT_TS_MS <= ts <= MAX_CLIENT_TS_MS else None

    vid = _text(raw, "vid", MAX_ID_LEN)
    if vid and not ID_RE.match(vid):
        raise EventError("vid must be 1-64 letters, digits or . _ : -")
    name = _text(raw, "name", MAX_TEXT_LEN)
    if kind == "custom" and not name:
        raise EventError("name is required for custom events")

    promo = None
    promo_raw = _object(raw, "promo")
    if promo_raw is not None or kind in PROMO_TYPES:
        if promo_raw is None:
            raise EventError("promo.id is required for promo events")
        variant = _text(promo_raw, "variant", 16)
        if variant and variant not in VARIANTS:
            raise EventError("promo.variant must be exposed or holdout")
        promo = Promo(
            id=_prefixed(promo_raw, "id", "promo", required=kind in PROMO_TYPES),
            name=_prefixed(promo_raw, "name", "promo"),
            creative=_prefixed(promo_raw, "creative", "promo"),
            slot=_prefixed(promo_raw, "slot", "promo"),
            variant=variant,
        )
        if not promo.id:
            promo = None

    order = None
    order_raw = _object(raw, "order")
    if order_raw is not None or kind == "purchase":
        if order_raw is None:
            raise EventError("order.id and order.revenue are required for purchases")
        revenue = order_raw.get("revenue")
        if revenue is None and kind != "purchase":
            revenue = 0
        if isinstance(revenue, bool) or not isinstance(revenue, (int, float)) or not math.isfinite(revenue):
            raise EventError("order.revenue must be a number")
        if not 0 <= revenue <= MAX_REVENUE:
            raise EventError(f"order.revenue must be between 0 and {MAX_REVENUE:g}")
        currency = _prefixed(order_raw, "currency", "order").upper()
        if currency and not CURRENCY_RE.match(currency):
            raise EventError("order.currency must be a 3-letter ISO 4217 code")
        order = Order(
            id=_prefixed(order_raw, "id", "order", required=kind == "purchase"),
            revenue=round(float(revenue), 4),
            currency=currency,
            coupon=_prefixed(order_raw, "coupon", "order").strip().upper(),
        )

    props: tuple[tuple[str, str], ...] = ()
    props_raw = _object(raw, "props")
    if props_raw:
        if len(props_raw) > MAX_PROPS:
            raise EventError(f"props has more than {MAX_PROPS} keys")
        items = []
        for key, value in props_raw.items():
            if not key or len(key) > MAX_PROP_KEY_LEN or _CONTROL.search(key):
                raise EventError(f"props keys must be 1-{MAX_PROP_KEY_LEN} printable characters")
            if isinstance(value, bool) or isinstance(value, (int, float)) and math.isfinite(value):
                value = str(value).lower() if isinstance(value, bool) else str(value)
            if not isinstance(value, str):
                raise EventError(f"props.{key} must be a string")
            if len(value) > MAX_PROP_VALUE_LEN or _CONTROL.search(value):
                raise EventError(f"props.{key} must be at most {MAX_PROP_VALUE_LEN} printable characters")
            items.append((key, value))
        props = tuple(items)

    env = None
    env_raw = _object(raw, "env")
    if env_raw is not None:
        webdriver = env_raw.get("webdriver")
        if webdriver is not None and not isinstance(webdriver, bool):
            raise EventError("env.webdriver must be a boolean")
        env = Env(
            webdriver=-1 if webdriver is None else int(webdriver),
            screen=_prefixed(env_raw, "screen", "env", limit=32),
            lang=_prefixed(env_raw, "lang", "env", limit=35),
            tz=_prefixed(env_raw, "tz", "env", limit=64),
        )

    return Event(
        type=kind,
        id=event_id,
        url=url,
        ts=ts,
        ref=_url(raw, "ref", required=False),
        sid=_text(raw, "sid", MAX_ID_LEN),
        vid=vid,
        name=name,
        promo=promo,
        order=order,
        props=props,
        env=env,
    )


def _prefixed(obj: dict, key: str, prefix: str, *, required: bool = False, limit: int = MAX_TEXT_LEN) -> str:
    try:
        return _text(obj, key, limit, required=required)
    except EventError as exc:
        raise EventError(f"{prefix}.{exc}") from None


def parse_batch(body: bytes) -> Batch:
    """The whole request: 400 for a body that is not the documented shape, per-event
    rejections for events that are not valid."""
    payload = decode_json(body)
    if not isinstance(payload, dict):
        raise BadRequest('body must be a JSON object: {"site": ..., "events": [...]}')
    site = payload.get("site")
    if not isinstance(site, str) or not SITE_RE.match(site):
        raise BadRequest("site must be a site id (letters, digits, . _ -; at most 64)")
    events = payload.get("events")
    if not isinstance(events, list):
        raise BadRequest("events must be a list")
    if len(events) > MAX_EVENTS:
        raise PayloadTooLarge(f"at most {MAX_EVENTS} events per request")
    good: list[tuple[int, Event]] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(events):
        try:
            good.append((index, parse_event(raw)))
        except EventError as exc:
            rejected.append(Rejection(index, str(exc)))
    return Batch(site=site, events=tuple(good), rejected=tuple(rejected))
