"""Parse at the door: request bytes -> frozen `Batch` of `Event`s, or a clear rejection.

Limits are the named constants below; tests exercise each one just under and just over.
Nothing server-derived (IP, user agent, site registration, receive time, signed visitor id)
is a field of `Event`: a client cannot set it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
import orjson

from tracker.errors import BadRequest, PayloadTooLarge
from tracker.http import DUPLICATE_KEYS
from tracker.vocabulary import EVENT_TYPES, PROMO_TYPES, check_site_id

MAX_BODY_BYTES = 64 * 1024
MAX_EVENTS = 100
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

# Site ids, event types and variants are `tracker.vocabulary`'s: the reports read them too.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
ID_RE = re.compile(ID_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


Text = lambda limit: Annotated[str, msgspec.Meta(max_length=limit)]  # noqa: E731
IdText = Annotated[str, msgspec.Meta(pattern=ID_PATTERN)]
UrlText = Annotated[str, msgspec.Meta(max_length=MAX_URL_LEN, pattern=r"^https?://")]
PropKey = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PROP_KEY_LEN)]
PropValue = Annotated[str, msgspec.Meta(max_length=MAX_PROP_VALUE_LEN)] | int | float | bool


class Promo(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    id: Text(MAX_TEXT_LEN) = ""
    name: Text(MAX_TEXT_LEN) = ""
    creative: Text(MAX_TEXT_LEN) = ""
    slot: Text(MAX_TEXT_LEN) = ""
    variant: Literal["", "exposed", "holdout"] = ""


class Order(msgspec.Struct, frozen=True):
    id: Text(MAX_TEXT_LEN) = ""
    revenue: Annotated[float, msgspec.Meta(ge=0, le=MAX_REVENUE)] | None = None
    currency: Annotated[str, msgspec.Meta(pattern=r"^([A-Za-z]{3})?$")] = ""
    coupon: Text(MAX_TEXT_LEN) = ""


class Env(msgspec.Struct, frozen=True):
    webdriver: bool | None = None
    screen: Text(32) = ""
    lang: Text(35) = ""
    tz: Text(64) = ""


class Event(msgspec.Struct, frozen=True):
    """One event as the client sent it, typed and bounded. Nothing server-derived lives here."""

    type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    id: IdText
    url: UrlText
    ts: float | None = None  # client epoch ms
    ref: Annotated[str, msgspec.Meta(max_length=MAX_URL_LEN, pattern=r"^(https?://.*)?$")] = ""
    sid: Text(MAX_ID_LEN) = ""
    vid: Annotated[str, msgspec.Meta(pattern=r"^([A-Za-z0-9][A-Za-z0-9._:-]{0,63})?$")] = ""
    name: Text(MAX_TEXT_LEN) = ""
    promo: Promo | None = None
    order: Order | None = None
    props: Annotated[dict[PropKey, PropValue], msgspec.Meta(max_length=MAX_PROPS)] | None = None
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


def _count_keys(value: object) -> int:
    """Keys in every object of a decoded JSON value (an explicit stack: this is hot)."""
    count, stack = 0, [value] if value.__class__ in (dict, list) else []
    while stack:
        node = stack.pop()
        items = node.values() if node.__class__ is dict else node
        if node.__class__ is dict:
            count += len(node)  # type: ignore[arg-type]
        for item in items:  # type: ignore[union-attr]
            kind = item.__class__
            if kind is dict or kind is list:
                stack.append(item)
    return count


_WS_BEFORE_COLON = re.compile(rb'"[ \t\r\n]+:')


def _surely_no_duplicates(body: bytes, value: object) -> bool:
    """Cheap proof that no object has a duplicate key. In JSON with no whitespace after a quote,
    every key is followed by `":` (no whitespace between a key and its colon); such pairs
    inside strings only add (an escaped quote then a colon). So `count('":') == keys parsed` means every written key survived parsing."""
    if _WS_BEFORE_COLON.search(body):
        return False
    return body.count(b'":') == _count_keys(value)


def decode_json(body: bytes) -> object:
    """Strict JSON: invalid UTF-8, NaN/Infinity, lone surrogates, deep nesting and duplicate
    keys are all a 400."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"body is not valid JSON: {exc.args[0] if exc.args else 'parse error'}") from None
    if not _surely_no_duplicates(body, value):
        try:
            DUPLICATE_KEYS.decode(body.decode("utf-8"))
        except RecursionError:
            raise BadRequest("body is nested too deeply") from None
    return value


# --- validation -------------------------------------------------------------------------------


def _message(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    if " - at `$." in text:
        text, _, where = text.partition(" - at `$.")
        return f"{where.rstrip('`')}: {text[0].lower()}{text[1:]}"
    return text[0].lower() + text[1:] if text else "invalid event"


def _nested_null(value: object) -> bool:
    return value.__class__ is dict and None in value.values()  # type: ignore[union-attr]


def _without_nulls(raw: dict) -> dict:
    """`"ref": null` means the field is absent, as in most JSON APIs."""
    out = {k: v for k, v in raw.items() if v is not None}
    for key in ("promo", "order", "env"):
        nested = out.get(key)
        if nested.__class__ is dict and None in nested.values():
            out[key] = {k: v for k, v in nested.items() if v is not None}
    return out


def _has_control(event: Event) -> bool:
    strings = [event.id, event.url, event.ref, event.sid, event.vid, event.name]
    for part in (event.promo, event.order, event.env):
        if part is not None:
            strings.extend(v for v in msgspec.structs.astuple(part) if isinstance(v, str))
    if event.props:
        strings.extend(event.props)
        strings.extend(v for v in event.props.values() if isinstance(v, str))
    return any(_CONTROL.search(s) for s in strings)


def parse_event(raw: object, *, may_have_control: bool = True) -> Event:
    """A raw event (decoded JSON) -> Event, or EventError with a human message."""
    if not isinstance(raw, dict):
        raise EventError("event must be an object")
    if None in raw.values() or _nested_null(raw.get("promo")) or _nested_null(raw.get("order")) or _nested_null(raw.get("env")):
        raw = _without_nulls(raw)
    try:
        event = msgspec.convert(raw, Event)
    except msgspec.ValidationError as exc:
        raise EventError(_message(exc)) from None
    if may_have_control and _has_control(event):
        raise EventError("strings must not contain control characters")
    return finish_event(event)


def finish_event(event: Event) -> Event:
    """The rules a typed event must still pass (what each type requires), then its
    normalisation (client clock, currency and coupon case, props as strings)."""
    kind = event.type
    if kind in PROMO_TYPES and (event.promo is None or not event.promo.id):
        raise EventError("promo.id is required for promo events")
    if kind == "purchase" and (event.order is None or not event.order.id or event.order.revenue is None):
        raise EventError("order.id and order.revenue are required for purchases")
    if kind == "custom" and not event.name:
        raise EventError("name is required for custom events")
    clock_ok = event.ts is None or MIN_CLIENT_TS_MS <= event.ts <= MAX_CLIENT_TS_MS
    if kind == "pageview" and event.order is None and event.props is None and clock_ok:
        return event  # the common case: nothing to normalise
    changes: dict = {}
    if not clock_ok:
        changes["ts"] = None  # a client clock years off is noise, not an error
    order = event.order
    if order is not None and (order.currency != order.currency.upper() or order.coupon != order.coupon.strip().upper()):
        changes["order"] = msgspec.structs.replace(order, currency=order.currency.upper(), coupon=order.coupon.strip().upper())
    if event.props and not all(v.__class__ is str for v in event.props.values()):
        changes["props"] = {k: v if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
                            for k, v in event.props.items()}
    return msgspec.structs.replace(event, **changes) if changes else event


def parse_batch(body: bytes) -> Batch:
    """The whole request: 400 for a body that is not the documented shape, per-event
    rejections for events that are not valid."""
    payload = decode_json(body)
    if not isinstance(payload, dict):
        raise BadRequest('body must be a JSON object: {"site": ..., "events": [...]}')
    site = check_site_id(payload.get("site"))
    events = payload.get("events")
    if not isinstance(events, list):
        raise BadRequest("events must be a list")
    if len(events) > MAX_EVENTS:
        raise PayloadTooLarge(f"at most {MAX_EVENTS} events per request")
    good: list[tuple[int, Event]] = []
    rejected: list[Rejection] = []
    # Control characters can only be in a JSON string as an escape: no backslash, no check needed.
    may_have_control = b"\\" in body or b"\x7f" in body
    for index, raw in enumerate(events):
        try:
            good.append((index, parse_event(raw, may_have_control=may_have_control)))
        except EventError as exc:
            rejected.append(Rejection(index, str(exc)))
    return Batch(site=site, events=tuple(good), rejected=tuple(rejected))
