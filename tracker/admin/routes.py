"""Admin API (role admin): sites, tokens and trusted import. The CLI speaks to these."""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import ADMIN, authorize
from tracker.errors import BadRequest
from tracker.ingest.importer import Importer
from tracker.ingest.routes import json_response, read_body
from tracker.sites import validate_site_id

MAX_IMPORT_CHUNK = 32 * 1024 * 1024


async def _json(request: Request) -> dict:
    body = await read_body(request, 1024 * 1024)
    try:
        data = orjson.loads(body or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _site_json(site) -> dict:
    return {"site": site.site, "origins": list(site.origins), "created_at": site.created_at}


async def list_sites(request: Request) -> Response:
    authorize(request, ADMIN)
    sites = await run_in_threadpool(request.app.state.sites.all)
    return json_response({"rows": [_site_json(s) for s in sites]})


async def add_site(request: Request) -> Response:
    authorize(request, ADMIN)
    data = await _json(request)
    origins = data.get("origins") or []
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise BadRequest("origins must be a list of strings")
    site = validate_site_id(str(data.get("site") or ""))
    record = await run_in_threadpool(request.app.state.sites.add, site, origins, replace=bool(data.get("replace")))
    return json_response(_site_json(record), 201)


async def list_tokens(request: Request) -> Response:
    authorize(request, ADMIN)
    rows = await run_in_threadpool(request.app.state.tokens.list)
    return json_response({"rows": rows})


async def create_token(request: Request) -> Response:
    authorize(request, ADMIN)
    data = await _json(request)
    sites = data.get("sites") or []
    if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
        raise BadRequest("sites must be a list of site ids")
    token, principal = await run_in_threadpool(
        request.app.state.tokens.create, role=str(data.get("role") or ""), name=str(data.get("name") or ""), sites=sites
    )
    return json_response({"token": token, "token_id": principal.token_id, "name": principal.name, "role": principal.role, "sites": list(principal.sites)}, 201)


async def revoke_token(request: Request) -> Response:
    authorize(request, ADMIN)
    count = await run_in_threadpool(request.app.state.tokens.revoke, request.path_params["token"])
    return json_response({"revoked": count})


async def import_events(request: Request) -> Response:
    """Body: JSON lines. `first_line` numbers them for error reports."""
    authorize(request, ADMIN)
    site = validate_site_id(request.query_params.get("site", ""))
    try:
        first_line = int(request.query_params.get("first_line", "1"))
    except ValueError:
        raise BadRequest("first_line must be a number") from None
    body = await read_body(request, MAX_IMPORT_CHUNK)
    state = request.app.state
    await run_in_threadpool(state.sites.ensure, site, [])
    importer = Importer(state.storage, state.agents, state.network, pool=state.runtime.import_pool())
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
