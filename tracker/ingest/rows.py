"""Event + what the server knows about the request -> one `events` row as JSONEachRow bytes.

This is the only place an events row is built: live ingest, `tracker import`, `tracker seed`
and the tests' journeys all go through `encode_row`, so a report test sees exactly the rows
production writes. Rows are encoded once, at accept time, and stay bytes until ClickHouse
parses them (`raw_insert`): the flusher never touches a Python row.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from tracker.ingest.schema import Event
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


def build_row(event: Event, ctx: Context, *, ts_ms: int | None = None) -> dict:
    """The events row. `ts_ms` overrides the event time (import: the line's own ts)."""
    page = parse_page_url(event.url)
    ref, ref_host = parse_referrer(event.ref)
    if event.vid and (ctx.minted or not ctx.vid):
        vid, source, signed = event.vid, "client", False
    else:
        vid, source, signed = ctx.vid, ctx.id_source, True
    received = ctx.received_ms / 1000
    promo = event.promo
    order = event.order
    env = event.env
    agent = ctx.agent
    return {
        "site": ctx.site,
        "event_id": event.id,
        "type": event.type,
        "ts": (ts_ms / 1000) if ts_ms is not None else received,
        "client_ts": event.ts / 1000 if event.ts is not None else None,
        "received_at": received,
        "vid": vid,
        "id_source": source,
        "vid_signed": 1 if signed else 0,
        "id_forged": 1 if ctx.id_forged else 0,
        "sid": event.sid,
        "url": page.url,
        "host": page.host,
        "path": page.path,
        "query": page.query,
        "ref": ref,
        "ref_host": ref_host,
        "utm_source": page.utm[0],
        "utm_medium": page.utm[1],
        "utm_campaign": page.utm[2],
        "utm_term": page.utm[3],
        "utm_content": page.utm[4],
        "click_id_type": page.click_id_type,
        "name": event.name,
        "promo_id": promo.id if promo else "",
        "promo_name": promo.name if promo else "",
        "promo_creative": promo.creative if promo else "",
        "promo_slot": promo.slot if promo else "",
        "promo_variant": promo.variant if promo else "",
        "order_id": order.id if order else "",
        "revenue": order.revenue if order else 0,
        "currency": order.currency if order else "",
        "coupon": order.coupon if order else "",
        "props": dict(event.props),
        "ua": agent.ua,
        "ua_browser": agent.browser,
        "ua_version": agent.version,
        "ua_os": agent.os,
        "ua_device": agent.device,
        "ua_is_bot": 1 if agent.is_bot else 0,
        "ua_headless": 1 if agent.headless else 0,
        "ip_prefix": ctx.ip_prefix,
        "ip_hash": ctx.ip_hash,
        "has_origin": 1 if ctx.has_origin else 0,
        "env_webdriver": env.webdriver if env else -1,
        "env_screen": env.screen if env else "",
        "env_lang": env.lang if env else "",
        "env_tz": env.tz if env else "",
    }


def encode_row(event: Event, ctx: Context, *, ts_ms: int | None = None) -> bytes:
    return orjson.dumps(build_row(event, ctx, ts_ms=ts_ms)) + b"\n"
