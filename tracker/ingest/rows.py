"""Event + what the server knows about the request -> one `events` row as JSONEachRow bytes.

This is the only place an events row is built: live ingest, `tracker import` and the tests'
journeys all go through `encode_row`, so a report test sees exactly the rows production
writes. `tracker seed` has ClickHouse assemble its rows from per-event times, ids and orders and
from pools of column values taken from `encode_row` (tracker/seed/; a test checks that its
rows equal encode_row's, column for column).
Rows are encoded once, at accept time, and stay bytes until ClickHouse parses them
(`raw_insert`): the flusher never touches a Python row.

Speed: the fields shared by every event of a request (site, times, visitor, user agent,
network) are encoded once per request (`Context.fragment`); each event adds only the fields
it has. Omitted columns take their defaults in ClickHouse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import orjson

from tracker.ingest.schema import Event
from tracker.scrub import ID, scrub, scrub_props
from tracker.ingest.urls import parse_page_url, parse_referrer
from tracker.ingest.useragent import Agent

_NO_AGENT = Agent("", "", "", "", "other", False, False, True)


@dataclass(frozen=True, slots=True)
class Context:
    """Server-derived facts about one request (or one imported line)."""

    site: str
    received_ms: int
    vid: str  # from a verified cookie, minted for this response, or the import line's
    id_source: str = "cookie"  # cookie | import
    minted: bool = False  # no valid cookie came in: events carrying their own vid keep it, unsigned
    id_forged: bool = False
    agent: Agent = _NO_AGENT
    ip_prefix: str = ""
    ip_hash: str = ""
    has_origin: bool = False
    fragment: bytes = field(default=b"", compare=False)

    def encoded(self) -> bytes:
        """The request-level part of every row, `"k":v,...` without braces: the part that
        depends on site, agent, forged flag and origin (cached across requests), then the
        network. Callers may pass it back as `fragment` to reuse it."""
        if self.fragment:
            return self.fragment
        fragment = _client_fragment(self.site, self.agent, self.id_forged, self.has_origin) + network_fragment(self.ip_prefix, self.ip_hash)
        object.__setattr__(self, "fragment", fragment)
        return fragment


def network_fragment(ip_prefix: str, ip_hash: str) -> bytes:
    """The network part of `Context.encoded`."""
    # Prefix and hash are ASCII made by tracker (digits, dots, colons, '/', hex): no escaping.
    return b',"ip_prefix":"%s","ip_hash":"%s"' % (ip_prefix.encode(), ip_hash.encode())


def client_fragment(site: str, agent: Agent, forged: bool, has_origin: bool) -> bytes:
    """The client part of `Context.encoded` (cached)."""
    return _client_fragment(site, agent, forged, has_origin)


@lru_cache(maxsize=4096)
def _client_fragment(site: str, agent: Agent, forged: bool, has_origin: bool) -> bytes:
    fields = {
        "site": site,
        "id_forged": 1 if forged else 0,
        "ua": agent.ua,
        "ua_browser": agent.browser,
        "ua_version": agent.version,
        "ua_os": agent.os,
        "ua_device": agent.device,
        "ua_is_bot": 1 if agent.is_bot else 0,
        "ua_headless": 1 if agent.headless else 0,
        "has_origin": 1 if has_origin else 0,
    }
    # Empty strings and zeros are the columns' type defaults: leaving them out makes every row
    # shorter for ClickHouse to parse (inserts skip DEFAULT expressions, see storage.client).
    return orjson.dumps({k: v for k, v in fields.items() if v or k == "site"})[1:-1]


def event_fields(event: Event, ctx: Context, ts_ms: int | None = None) -> dict:
    """The per-event columns (only those with a value, besides the always-present ones)."""
    if event.vid and (ctx.minted or not ctx.vid):
        vid, source, signed = event.vid, "client", 0
    else:
        vid, source, signed = ctx.vid, ctx.id_source, 1
    return _event_columns(event, vid, source, signed, ts_ms if ts_ms is not None else ctx.received_ms, ctx.received_ms)


def _event_columns(event: Event, vid: str, source: str, signed: int, ts_ms: int | float, received_ms: int) -> dict:
    page = parse_page_url(event.url)
    row = {
        "event_id": event.id,
        "type": event.type,
        "ts": ts_ms / 1000,
        "received_at": received_ms / 1000,
        "vid": vid,
        "id_source": source,
        "vid_signed": signed,
        "url": page.url,
        "host": page.host,
        "path": page.path,
    }
    if page.query:
        row["query"] = page.query
        utm = page.utm
        if utm[0]:
            row["utm_source"] = utm[0]
        if utm[1]:
            row["utm_medium"] = utm[1]
        if utm[2]:
            row["utm_campaign"] = utm[2]
        if utm[3]:
            row["utm_term"] = utm[3]
        if utm[4]:
            row["utm_content"] = utm[4]
    if page.click_id_type:
        row["click_id_type"] = page.click_id_type
    if event.ts is not None:
        row["client_ts"] = event.ts / 1000
    if event.ref:
        row["ref"], row["ref_host"] = parse_referrer(event.ref)
    # Every free-text field is scrubbed here, by the one scrub (tracker/scrub.py); the
    # URL and referrer in tracker/ingest/urls.py.
    if event.sid:
        row["sid"] = scrub(event.sid, ID)
    if event.name:
        row["name"] = scrub(event.name)
    promo = event.promo
    if promo is not None:
        row["promo_id"] = scrub(promo.id, ID)
        row["promo_name"] = scrub(promo.name)
        row["promo_creative"] = scrub(promo.creative)
        row["promo_slot"] = scrub(promo.slot)
        row["promo_variant"] = promo.variant
    order = event.order
    if order is not None:
        row["order_id"] = scrub(order.id, ID)
        row["revenue"] = round(order.revenue or 0.0, 4)
        row["currency"] = order.currency
        row["coupon"] = scrub(order.coupon, ID)
    if event.props:
        row["props"] = scrub_props(event.props)
    env = event.env
    if env is not None:
        row["env_webdriver"] = -1 if env.webdriver is None else int(env.webdriver)
        row["env_screen"] = scrub(env.screen)
        row["env_lang"] = scrub(env.lang)
        row["env_tz"] = scrub(env.tz)
    else:
        row["env_webdriver"] = -1
    return row


def encode_row(event: Event, ctx: Context, *, ts_ms: int | None = None) -> bytes:
    return b"{" + ctx.encoded() + b"," + orjson.dumps(event_fields(event, ctx, ts_ms))[1:] + b"\n"


def encode_import_row(event: Event, fragment: bytes, vid: str, ts_ms: int) -> bytes:
    """`encode_row` of an imported line without building its `Context` (a frozen dataclass
    costs ~2 us, a quarter of a line's encoding): the same bytes as
    `encode_row(event, Context(site, ts_ms, vid, "import", agent=..., ip_prefix=..., ip_hash=...,
    has_origin=True, fragment=fragment), ts_ms=ts_ms)` where `fragment` is that context's
    `encoded()`, i.e. `client_fragment(site, agent, False, True) + network_fragment(prefix, hash)`."""
    return b"{" + fragment + b"," + orjson.dumps(_event_columns(event, vid, "import", 1, ts_ms, ts_ms))[1:] + b"\n"


def build_row(event: Event, ctx: Context, *, ts_ms: int | None = None) -> dict:
    """The row as a dict (for tests and tools; ingest uses `encode_row`)."""
    return orjson.loads(encode_row(event, ctx, ts_ms=ts_ms))
