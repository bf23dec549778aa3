"""Privacy requests over HTTP (CONTRACT §5).

- `GET /api/privacy/visitors/{vid}` (admin): everything stored about the visitor, as JSON.
- `DELETE /api/privacy/visitors/{vid}` (admin): erase it everywhere; the ledger notes it.
- `GET /api/privacy/erasures` (admin): the erasure ledger (hashes, never visitor ids).
- `POST /api/forget-me` (the visitor itself, from the browser): erases the visitor named by
  its own *verified* `_tid` cookie (never an id from the body or the query, so nobody can
  erase someone else), then clears the cookie. CORS with credentials for registered origins
  only; a request from an unregistered origin is refused before anything is erased. Rate
  limited per IP prefix, because an erasure costs a delete on every visitor table.
"""

from __future__ import annotations

import math

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import ADMIN, authorize
from tracker.errors import BadRequest, Forbidden, RateLimited
from tracker.ingest.routes import cors_headers, is_secure, preflight, request_facts
from tracker.ingest.visitor_id import COOKIE_NAME
from tracker.privacy import erase as erasing
from tracker.privacy.export import export, json_default
from tracker.sites import validate_site_id

MAX_VID_LEN = 200


def _json(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload, default=json_default), status_code=status, headers=headers, media_type="application/json")


def _target(request: Request) -> tuple[str, str | None]:
    vid = request.path_params["vid"]
    if not vid or len(vid) > MAX_VID_LEN or not vid.isprintable():
        raise BadRequest(f"vid must be 1-{MAX_VID_LEN} printable characters")
    site = request.query_params.get("site") or None
    return vid, (validate_site_id(site) if site is not None else None)


async def export_visitor(request: Request) -> Response:
    authorize(request, ADMIN)
    vid, site = _target(request)
    if site is not None:
        authorize(request, ADMIN, site)
    result = await run_in_threadpool(export, request.app.state.runtime, vid, site)
    return _json(result)


async def erase_visitor(request: Request) -> Response:
    principal = authorize(request, ADMIN)
    vid, site = _target(request)
    if site is not None:
        authorize(request, ADMIN, site)
    elif principal.sites:
        raise Forbidden("a token limited to some sites must name the site to erase from")
    result = await run_in_threadpool(erasing.erase, request.app.state.runtime, vid, site, by=principal.name)
    return _json(result)


async def erasures(request: Request) -> Response:
    authorize(request, ADMIN)
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    if not 1 <= limit <= 10_000:
        raise BadRequest("limit must be between 1 and 10000")
    rows = await run_in_threadpool(erasing.ledger, request.app.state.storage, limit=limit)
    return _json({"rows": rows})


def _registered_origin(request: Request, origin: str) -> bool:
    origin = origin.lower().rstrip("/")
    return any(origin in s.origins for s in request.app.state.sites.all())


async def forget_me(request: Request) -> Response:
    state = request.app.state
    origin = request.headers.get("origin")
    headers: dict[str, str] = {}
    if origin:
        if not await run_in_threadpool(_registered_origin, request, origin):
            raise Forbidden("this origin is not registered with the tracker")
        headers = cors_headers(origin)
    _check_rate(request, headers)
    vid = state.ids.verify(request.cookies.get(COOKIE_NAME))
    erased = 0
    if vid is not None:
        result = await run_in_threadpool(erasing.erase, state.runtime, vid, None, by="forget-me")
        erased = result["total"]
    secure = "; Secure" if is_secure(request) else ""
    response = _json({"forgotten": vid is not None, "erased": erased}, 200, headers)
    response.headers.append("set-cookie", f"{COOKIE_NAME}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}")
    return response


def _check_rate(request: Request, headers: dict[str, str]) -> None:
    limiter = request.app.state.rate_limiter
    facts = request_facts(request)
    network = request.app.state.network
    prefix, _ = network.describe(network.client_ip(facts.peer, facts.forwarded_for))
    wait = limiter.forget_me.take(prefix or "?")
    if wait:
        raise RateLimited("too many erasure requests from your network; retry later", headers={"Retry-After": str(max(1, math.ceil(wait))), **headers})


routes = [
    Route("/api/privacy/visitors/{vid:path}", export_visitor, methods=["GET"]),
    Route("/api/privacy/visitors/{vid:path}", erase_visitor, methods=["DELETE"]),
    Route("/api/privacy/erasures", erasures, methods=["GET"]),
    Route("/api/forget-me", forget_me, methods=["POST"]),
    Route("/api/forget-me", preflight, methods=["OPTIONS"]),
]
