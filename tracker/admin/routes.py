"""Admin API (role admin): sites, tokens and trusted import. The CLI speaks to these."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import ADMIN, authorize
from tracker.errors import BadRequest
from tracker.http import json_response, read_body, read_json_object, runtime_of
from tracker.ingest.importer import Importer
from tracker.vocabulary import check_site_id

MAX_IMPORT_CHUNK = 32 * 1024 * 1024
MAX_ADMIN_BODY = 1024 * 1024


def _site_json(site) -> dict:
    return {"site": site.site, "origins": list(site.origins), "created_at": site.created_at}


async def list_sites(request: Request) -> Response:
    authorize(request, ADMIN)
    sites = await run_in_threadpool(runtime_of(request).sites.all)
    return json_response({"rows": [_site_json(s) for s in sites]})


async def add_site(request: Request) -> Response:
    authorize(request, ADMIN)
    data = await read_json_object(request, MAX_ADMIN_BODY)
    origins = data.get("origins") or []
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise BadRequest("origins must be a list of strings")
    site = check_site_id(str(data.get("site") or ""))
    record = await run_in_threadpool(runtime_of(request).sites.add, site, origins, replace=bool(data.get("replace")))
    return json_response(_site_json(record), 201)


async def list_tokens(request: Request) -> Response:
    authorize(request, ADMIN)
    rows = await run_in_threadpool(runtime_of(request).tokens.list)
    return json_response({"rows": rows})


async def create_token(request: Request) -> Response:
    authorize(request, ADMIN)
    data = await read_json_object(request, MAX_ADMIN_BODY)
    sites = data.get("sites") or []
    if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
        raise BadRequest("sites must be a list of site ids")
    token, principal = await run_in_threadpool(
        runtime_of(request).tokens.create, role=str(data.get("role") or ""), name=str(data.get("name") or ""), sites=sites
    )
    body = {"token": token, "token_id": principal.token_id, "name": principal.name, "role": principal.role, "sites": list(principal.sites)}
    return json_response(body, 201)


async def revoke_token(request: Request) -> Response:
    authorize(request, ADMIN)
    count = await run_in_threadpool(runtime_of(request).tokens.revoke, request.path_params["token"])
    return json_response({"revoked": count})


async def import_events(request: Request) -> Response:
    """Body: JSON lines. `first_line` numbers them for error reports."""
    authorize(request, ADMIN)
    site = check_site_id(request.query_params.get("site", ""))
    try:
        first_line = int(request.query_params.get("first_line", "1"))
    except ValueError:
        raise BadRequest("first_line must be a number") from None
    body = await read_body(request, MAX_IMPORT_CHUNK)
    runtime = runtime_of(request)
    await run_in_threadpool(runtime.sites.ensure, site, [])
    importer = Importer(runtime.storage, runtime.agents, runtime.network, pool=runtime.import_pool)
    result = await run_in_threadpool(importer.import_body, site, body, first_line)
    return json_response({"accepted": result.accepted, "errors": result.errors})


routes = [
    Route("/api/admin/sites", list_sites, methods=["GET"]),
    Route("/api/admin/sites", add_site, methods=["POST"]),
    Route("/api/admin/tokens", list_tokens, methods=["GET"]),
    Route("/api/admin/tokens", create_token, methods=["POST"]),
    Route("/api/admin/tokens/{token}", revoke_token, methods=["DELETE"]),
    Route("/api/admin/import", import_events, methods=["POST"]),
]
