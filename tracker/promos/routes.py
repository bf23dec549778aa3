"""Promotions over HTTP: the admin registry API and the public holdout assignment.

`GET /api/assign?site=&promo=` is called by the snippet's `tracker('assign', ...)` from shop
pages, with credentials: the variant is derived from the verified `_tid` visitor id (minted and
set here when absent, so the assignment is the one later events are counted under). It never
leaks whether a site or promotion exists: unknown ones, unregistered origins and visitors who
opted out all get `{"variant": "exposed"}` — the latter two without any cookie.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import ADMIN, authorize, note_action
from tracker.errors import BadRequest, NotFound
from tracker.http import cors_headers, is_secure, json_response, preflight, read_json_object, request_facts, runtime_of
from tracker.promos import registry as reg
from tracker.vocabulary import check_site_id

EXPOSED = {"variant": "exposed"}
MAX_ADMIN_BODY = 64 * 1024


async def assign(request: Request) -> Response:
    query = request.query_params
    site = check_site_id(query.get("site", ""))
    promo_id = reg.clean_promo_id(query.get("promo", ""))
    runtime = runtime_of(request)
    facts = request_facts(request)
    headers = {"Cache-Control": "no-store", "Vary": "Origin, Cookie"}
    if facts.origin:
        if not runtime.sites.origin_allowed(site, facts.origin):
            return json_response(EXPOSED, 200, headers)
        headers.update(cors_headers(facts.origin), Vary="Origin, Cookie")
    if facts.opted_out(runtime.settings.respect_dnt):
        return json_response(EXPOSED, 200, headers)
    if runtime.sites.get(site) is None:
        return json_response(EXPOSED, 200, headers)
    identity, cookie = runtime.ids.identify(facts.cookie)
    promo = await run_in_threadpool(runtime.promos.get, site, promo_id)
    chosen = reg.variant(identity.vid, promo_id, promo.holdout_pct if promo else 0.0)
    response = json_response({"variant": chosen}, 200, headers)
    if cookie:
        response.headers.append("set-cookie", runtime.ids.cookie_header(cookie, secure=is_secure(request)))
    return response


def _site_param(request: Request) -> str:
    site = request.query_params.get("site")
    if not site:
        raise BadRequest("site is required")
    return check_site_id(site)


async def list_promos(request: Request) -> Response:
    site = _site_param(request)
    authorize(request, ADMIN, site)
    rows = await run_in_threadpool(runtime_of(request).promos.list, site)
    return json_response({"rows": [p.to_json() for p in rows]})


async def set_promo(request: Request) -> Response:
    """Create or update one promotion; absent fields keep their value (an empty date clears it)."""
    data = await read_json_object(request, MAX_ADMIN_BODY)
    site = check_site_id(str(data.get("site") or ""))
    authorize(request, ADMIN, site)
    runtime = runtime_of(request)
    if await run_in_threadpool(runtime.sites.get, site) is None:
        raise NotFound(f"no site {site!r}; register it with tracker site add")
    promo_id = reg.clean_promo_id(data.get("promo_id", data.get("id")))
    changes = {}
    if data.get("name") is not None:
        changes["name"] = reg.clean_name(data["name"])
    if data.get("holdout_pct") is not None:
        changes["holdout_pct"] = reg.clean_holdout(data["holdout_pct"])
    if data.get("coupons") is not None:
        changes["coupons"] = reg.clean_coupons(data["coupons"])
    for field in ("starts_at", "ends_at"):
        if field in data:
            changes[field] = reg.clean_when(data[field], field, end=field == "ends_at")
    promo = await run_in_threadpool(lambda: runtime.promos.set(site, promo_id, **changes))
    note_action(request, f"set promotion {promo_id!r}: {', '.join(sorted(changes)) or 'registered'}")
    return json_response(promo.to_json())


async def remove_promo(request: Request) -> Response:
    site = _site_param(request)
    authorize(request, ADMIN, site)
    promo_id = reg.clean_promo_id(request.query_params.get("promo", ""))
    if not await run_in_threadpool(runtime_of(request).promos.remove, site, promo_id):
        raise NotFound(f"no promotion {promo_id!r} on site {site!r}")
    note_action(request, f"removed promotion {promo_id!r}")
    return json_response({"removed": 1})


routes = [
    Route("/api/assign", assign, methods=["GET"]),
    Route("/api/assign", preflight, methods=["OPTIONS"]),
    Route("/api/admin/promos", list_promos, methods=["GET"]),
    Route("/api/admin/promos", set_promo, methods=["POST"]),
    Route("/api/admin/promos", remove_promo, methods=["DELETE"]),
]
