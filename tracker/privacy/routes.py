"""Privacy requests over HTTP (the API's privacy section; `tracker privacy` is its CLI).

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

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import ADMIN, authorize, note_action, note_site
from tracker.errors import BadRequest, Forbidden
from tracker.http import cookie_header, cors_headers, int_param, is_secure, json_response, network_prefix, preflight, runtime_of
from tracker.privacy import erase as erasing
from tracker.privacy.export import export, json_default
from tracker.vocabulary import COOKIE_NAME, check_site_id

MAX_VID_LEN = 200


def _json(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """Exports carry ClickHouse values orjson does not know (Decimal, IP types)."""
    return json_response(payload, status, headers, default=json_default)


def _target(request: Request) -> tuple[str, str | None]:
    vid = request.path_params["vid"]
    if not vid or len(vid) > MAX_VID_LEN or not vid.isprintable():
        raise BadRequest(f"vid must be 1-{MAX_VID_LEN} printable characters")
    site = request.query_params.get("site") or None
    return vid, (check_site_id(site) if site is not None else None)


async def export_visitor(request: Request) -> Response:
    """Without `?site=`, an unscoped admin exports every site's records; a site-scoped admin
    the records of its own sites only (one export per site, merged)."""
    principal = authorize(request, ADMIN)
    vid, site = _target(request)
    if site is not None:
        authorize(request, ADMIN, site)
    runtime = runtime_of(request)
    if site is not None or not principal.sites:
        result = await run_in_threadpool(export, runtime, vid, site)
    else:
        note_site(request, *principal.sites)
        parts = [await run_in_threadpool(export, runtime, vid, s) for s in principal.sites]
        result = _merge(vid, principal.sites, parts)
    note_action(request, f"exported {sum(result['counts'].values())} records of visitor {_hash(runtime, vid)}")
    return _json(result)


def _hash(runtime, vid: str) -> str:
    """The erasure ledger's salted hash of a visitor id: the audit log never holds the id."""
    return "vid_hash:" + erasing.vid_hash(runtime.settings, vid)[:16]


def _merge(vid: str, sites: tuple[str, ...], parts: list[dict]) -> dict:
    tables: dict[str, list[dict]] = {}
    counts: dict[str, int] = {}
    for part in parts:
        for name, rows in part["tables"].items():
            tables.setdefault(name, []).extend(rows)
        for name, count in part["counts"].items():
            counts[name] = counts.get(name, 0) + count
    return {"vid": vid, "site": None, "sites": list(sites), "exported_at": parts[0]["exported_at"], "counts": counts,
            "tables": tables, "pending": [row for part in parts for row in part["pending"]]}


async def erase_visitor(request: Request) -> Response:
    principal = authorize(request, ADMIN)
    vid, site = _target(request)
    if site is not None:
        authorize(request, ADMIN, site)
    elif principal.sites:
        raise Forbidden("a token limited to some sites must name the site to erase from")
    result = await run_in_threadpool(erasing.erase, runtime_of(request), vid, site, by=principal.name)
    note_action(request, f"erased {result['total']} records of visitor {_hash(runtime_of(request), vid)}")
    return _json(result)


async def erasures(request: Request) -> Response:
    principal = authorize(request, ADMIN)
    limit = int_param(request.query_params, "limit", 100, 1, 10_000)
    rows = await run_in_threadpool(lambda: erasing.ledger(runtime_of(request).storage, limit=limit, sites=principal.sites))
    return _json({"rows": rows})


async def forget_me(request: Request) -> Response:
    runtime = runtime_of(request)
    origin = request.headers.get("origin")
    headers: dict[str, str] = {}
    if origin:
        if not await run_in_threadpool(runtime.sites.known_origin, origin):
            raise Forbidden("this origin is not registered with the tracker")
        headers = cors_headers(origin)
    runtime.rate_limiter.check_forget_me(network_prefix(request), headers)
    vid = runtime.ids.verify(request.cookies.get(COOKIE_NAME))
    erased = 0
    if vid is not None:
        result = await run_in_threadpool(erasing.erase, runtime, vid, None, by="forget-me")
        erased = result["total"]
    response = _json({"forgotten": vid is not None, "erased": erased}, 200, headers)
    response.headers.append("set-cookie", cookie_header(COOKIE_NAME, "", secure=is_secure(request), max_age=0))
    return response


routes = [
    Route("/api/privacy/visitors/{vid:path}", export_visitor, methods=["GET"]),
    Route("/api/privacy/visitors/{vid:path}", erase_visitor, methods=["DELETE"]),
    Route("/api/privacy/erasures", erasures, methods=["GET"]),
    Route("/api/forget-me", forget_me, methods=["POST"]),
    Route("/api/forget-me", preflight, methods=["OPTIONS"]),
]
