"""`GET /openapi.json` (the document) and `GET /api/docs` (the same for people: rendered on the
server from the document, no script, under the start page's strict CSP)."""

from __future__ import annotations

from functools import lru_cache

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.openapi import document
from tracker.openapi.render import groups, pretty
from tracker.web.routes import strict_page


@lru_cache(maxsize=1)
def _spec() -> tuple[dict, bytes]:
    """The service's document, built once per process from its route table
    (`tracker.routing.all_routes()`, the one every app serves)."""
    spec = document()
    return spec, orjson.dumps(spec)


async def openapi_json(request: Request) -> Response:
    """The OpenAPI 3.1 document of every `/api/` route (CONTRACT §8)."""
    return Response(_spec()[1], media_type="application/json", headers={"Cache-Control": "no-cache"})


async def api_docs(request: Request) -> Response:
    """The API document for people."""
    spec = _spec()[0]
    return strict_page(request, "site/api_docs.html", spec=spec, groups=groups(spec), error=pretty(spec["components"]["schemas"]["Error"]))


routes = [
    Route("/openapi.json", openapi_json, methods=["GET"]),
    Route("/api/docs", api_docs, methods=["GET"], include_in_schema=False),
]
