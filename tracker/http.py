"""The HTTP kit every route family uses: the runtime of a request, JSON answers, bounded
bodies, CORS, cookies, the secure check and the server-side facts about a request.

Neutral ground: ingest, reports, auth, privacy, promotions and the dashboard all import it,
and it imports none of them (the `Runtime` type is only named for type checkers).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import json

import orjson
from starlette.requests import Request
from starlette.responses import Response

from tracker.errors import BadRequest, PayloadTooLarge
from tracker.vocabulary import COOKIE_NAME, OPTOUT_COOKIE

if TYPE_CHECKING:
    from tracker.runtime import Runtime

PREFLIGHT_MAX_AGE = "86400"


def runtime_of(request: Request) -> Runtime:
    """The long-lived parts serving this request: the one way a handler reaches them."""
    return request.app.state.runtime


def json_response(payload: object, status: int = 200, headers: dict[str, str] | None = None,
                  default: Callable[[Any], Any] | None = None) -> Response:
    """The one JSON answer builder (errors included: `{"error": message}`). `default` encodes
    values orjson does not know (the privacy export's ClickHouse values)."""
    return Response(orjson.dumps(payload, default=default), status_code=status, headers=headers, media_type="application/json")


def iso_time(value: Any) -> Any:
    """A time as JSON answers show it: ISO 8601 in UTC to the millisecond with `Z`. Naive
    datetimes are UTC (ClickHouse hands back stored UTC times without a zone); anything that
    is not a datetime (None, a string) passes through."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def error_response(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return json_response({"error": message}, status, headers)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it is known to exceed `limit` bytes (a declared
    Content-Length is believed for the refusal, never for the reading)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, limit: int) -> dict:
    """A bounded JSON object body (an empty body is `{}`), or a 400 saying what is wrong."""
    try:
        data = orjson.loads(await read_body(request, limit) or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def int_param(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter within [lo, hi]; absent or empty means `default`."""
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)  # type: ignore[arg-type]
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}")
    return value


def cors_headers(origin: str) -> dict[str, str]:
    """CORS with credentials for one origin the caller has checked is registered."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


async def preflight(request: Request) -> Response:
    """CORS preflight of the browser-facing endpoints (needed for application/json; text/plain
    needs none): granted to an origin registered for `?site=`, or for any site without it."""
    origin = request.headers.get("origin")
    site = request.query_params.get("site")
    sites = runtime_of(request).sites
    allowed = bool(origin) and (sites.origin_allowed(site, origin) if site else sites.known_origin(origin))
    if not allowed:
        return Response(status_code=204)
    return Response(
        status_code=204,
        headers={
            **cors_headers(origin),
            "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        },
    )


def is_secure(request: Request) -> bool:
    """Whether the browser reached us over https, so cookies get `Secure`: the request's own
    scheme, a configured https `public_url`, or `X-Forwarded-Proto: https` from a configured
    trusted proxy (never from anyone else)."""
    if request.url.scheme == "https":
        return True
    runtime = runtime_of(request)
    if runtime.settings.public_url.startswith("https://"):
        return True
    peer = request.client.host if request.client else ""
    return request.headers.get("x-forwarded-proto", "") == "https" and runtime.network.is_trusted_proxy(peer)


def cookie_header(name: str, value: str, *, secure: bool, max_age: int, path: str = "/", same_site: str = "Lax",
                  http_only: bool = True) -> str:
    """A Set-Cookie value; every cookie tracker sets is written here."""
    return (f"{name}={value}; Max-Age={max_age}; Path={path}" + ("; HttpOnly" if http_only else "")
            + f"; SameSite={same_site}" + ("; Secure" if secure else ""))


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """Everything the server (not the body) says about a request."""

    peer: str | None
    forwarded_for: str | None
    origin: str | None
    user_agent: str
    cookie: str | None
    optout_cookie: bool
    gpc: bool
    dnt: bool

    def opted_out(self, respect_dnt: bool) -> bool:
        """Sec-GPC: 1, the opt-out cookie, or DNT: 1 when configured to count."""
        return self.gpc or self.optout_cookie or (respect_dnt and self.dnt)


def request_facts(request: Request) -> RequestFacts:
    headers = request.headers
    return RequestFacts(
        peer=request.client.host if request.client else None,
        forwarded_for=headers.get("x-forwarded-for"),
        origin=headers.get("origin"),
        user_agent=headers.get("user-agent", ""),
        cookie=request.cookies.get(COOKIE_NAME),
        optout_cookie=request.cookies.get(OPTOUT_COOKIE) == "1",
        gpc=headers.get("sec-gpc", "").strip() == "1",
        dnt=headers.get("dnt", "").strip() == "1",
    )


def network_prefix(request: Request, facts: RequestFacts | None = None) -> str:
    """The IP prefix the request is attributed to (by the trusted-proxy rule), "?" if none:
    the key of every per-network rate limit."""
    facts = facts or request_facts(request)
    network = runtime_of(request).network
    prefix, _ = network.describe(network.client_ip(facts.peer, facts.forwarded_for))
    return prefix or "?"


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        dup = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise BadRequest(f"duplicate key {dup!r} in a JSON object")
    return obj


# The exact duplicate-key check of request bodies (orjson keeps the last of duplicate keys
# silently): the stdlib scanner with a pairs hook; `DUPLICATE_KEYS.decode(text)` raises a 400.
DUPLICATE_KEYS = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys)
