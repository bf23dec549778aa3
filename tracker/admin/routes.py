"""Admin API (role admin): sites, tokens and trusted import. The CLI speaks to these.

A site-scoped admin (`tracker token create --role admin --site A`) administers its own sites
only: it lists only them and the tokens limited to them, cannot register a new site, mint or
revoke a token wider than itself, or import into another site; other sites answer 404 like
sites that do not exist (tracker/auth/roles.py). Every action names its site(s) for the audit log.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import ADMIN, authorize, check_sites, note_action, note_site
from tracker.errors import BadRequest, Forbidden, NotFound
from tracker.http import json_response, read_body, read_json_object, runtime_of
from tracker.ingest.importer import Importer
from tracker.sites import check_revenue_ceiling
from tracker.vocabulary import check_site_id

MAX_IMPORT_CHUNK = 32 * 1024 * 1024
MAX_ADMIN_BODY = 1024 * 1024


SITE_SETTINGS = ("revenue_ceiling",)


def _site_json(site) -> dict:
    return {"site": site.site, "origins": list(site.origins), "created_at": site.created_at,
            "revenue_ceiling": site.revenue_ceiling or None}  # None: automatic


async def list_sites(request: Request) -> Response:
    principal = authorize(request, ADMIN)
    sites = await run_in_threadpool(runtime_of(request).sites.all)
    return json_response({"rows": [_site_json(s) for s in sites if principal.may_see_site(s.site)]})


async def add_site(request: Request) -> Response:
    data = await read_json_object(request, MAX_ADMIN_BODY)
    origins = data.get("origins") or []
    if not isinstance(origins, list) or not all(isinstance(o, str) for o in origins):
        raise BadRequest("origins must be a list of strings")
    site = check_site_id(str(data.get("site") or ""))
    authorize(request, ADMIN, site)  # a scoped admin: only a site its token names (registering it is fine)
    record = await run_in_threadpool(runtime_of(request).sites.add, site, origins, replace=bool(data.get("replace")))
    note_action(request, f"site {site}: origins {', '.join(record.origins) or '(none)'}" + (" (replaced)" if data.get("replace") else ""))
    return json_response(_site_json(record), 201)


async def configure_site(request: Request) -> Response:
    """Body: the settings to change, e.g. {"revenue_ceiling": 5000} (0: automatic)."""
    site = check_site_id(request.path_params["site"])
    authorize(request, ADMIN, site)
    data = await read_json_object(request, MAX_ADMIN_BODY)
    unknown = sorted(set(data) - set(SITE_SETTINGS))
    if unknown or not data:
        raise BadRequest(f"unknown setting {unknown[0]!r} (settings: {', '.join(SITE_SETTINGS)})" if unknown
                         else f"name a setting to change ({', '.join(SITE_SETTINGS)})")
    ceiling = check_revenue_ceiling(data["revenue_ceiling"])
    runtime = runtime_of(request)
    record = await run_in_threadpool(lambda: runtime.sites.configure(site, revenue_ceiling=ceiling))
    if record is None:
        raise NotFound(f"no site {site!r}")
    runtime.trust_sets.notify_flushed()  # revenue_outlier reads the ceiling: re-check soon
    note_action(request, f"site {site}: revenue_ceiling {ceiling or 'automatic'}")
    return json_response(_site_json(record))


async def list_tokens(request: Request) -> Response:
    principal = authorize(request, ADMIN)
    rows = await run_in_threadpool(runtime_of(request).tokens.list)
    return json_response({"rows": [r for r in rows if principal.covers(list(r["sites"]))]})


async def create_token(request: Request) -> Response:
    """Never wider than the caller: a scoped admin names only its own sites, and at least one."""
    principal = authorize(request, ADMIN)
    data = await read_json_object(request, MAX_ADMIN_BODY)
    sites = data.get("sites") or []
    if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
        raise BadRequest("sites must be a list of site ids")
    sites = [check_site_id(s) for s in sites]
    check_sites(principal, sites)
    if principal.sites and not sites:
        raise Forbidden("a token limited to some sites can only create tokens limited to those sites; name them in sites")
    note_site(request, *sites)
    token, made = await run_in_threadpool(
        runtime_of(request).tokens.create, role=str(data.get("role") or ""), name=str(data.get("name") or ""), sites=sites
    )
    note_action(request, f"created token {made.token_id} {made.name!r}, role {made.role}, sites {', '.join(made.sites) or 'all'}")
    body = {"token": token, "token_id": made.token_id, "name": made.name, "role": made.role, "sites": list(made.sites)}
    return json_response(body, 201)


async def revoke_token(request: Request) -> Response:
    principal = authorize(request, ADMIN)
    revoked = await run_in_threadpool(lambda: runtime_of(request).tokens.revoke(request.path_params["token"], by=principal))
    note_site(request, *sorted({s for r in revoked for s in r["sites"]}))
    note_action(request, "revoked token " + ", ".join(f"{r['token_id']} {r['name']!r} ({r['role']})" for r in revoked))
    return json_response({"revoked": len(revoked)})


async def import_events(request: Request) -> Response:
    """Body: JSON lines. `first_line` numbers them for error reports."""
    site = check_site_id(request.query_params.get("site", ""))
    authorize(request, ADMIN, site)
    try:
        first_line = int(request.query_params.get("first_line", "1"))
    except ValueError:
        raise BadRequest("first_line must be a number") from None
    body = await read_body(request, MAX_IMPORT_CHUNK)
    runtime = runtime_of(request)
    await run_in_threadpool(runtime.sites.ensure, site, [])
    importer = Importer(runtime.storage, runtime.agents, runtime.network, pool=runtime.import_pool)
    result = await run_in_threadpool(importer.import_body, site, body, first_line)
    note_action(request, f"imported {result.accepted} events from lines {first_line}+, {len(result.errors)} bad lines")
    return json_response({"accepted": result.accepted, "errors": result.errors})


routes = [
    Route("/api/admin/sites", list_sites, methods=["GET"]),
    Route("/api/admin/sites", add_site, methods=["POST"]),
    Route("/api/admin/sites/{site}", configure_site, methods=["PATCH"]),
    Route("/api/admin/tokens", list_tokens, methods=["GET"]),
    Route("/api/admin/tokens", create_token, methods=["POST"]),
    Route("/api/admin/tokens/{token}", revoke_token, methods=["DELETE"]),
    Route("/api/admin/import", import_events, methods=["POST"]),
]
