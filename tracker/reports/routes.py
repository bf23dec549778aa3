"""`GET /api/reports/<name>`: authorize, build the report's typed Params, run it off the
event loop, answer JSON. Reports are modules listed in `REPORTS`; each has
`Params.from_query(query) -> Params` and `run(storage, params) -> dict`."""

from __future__ import annotations

import importlib
from types import ModuleType

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import REPORTS as REPORT_ROLES
from tracker.auth.roles import authorize
from tracker.errors import NotFound
from tracker.ingest.routes import json_response

REPORTS = {
    "overview": "tracker.reports.overview",
    "pages": "tracker.reports.pages",
    "paths": "tracker.reports.paths",
    "funnel": "tracker.reports.funnel",
    "promotions": "tracker.reports.promotions",
    "campaigns": "tracker.reports.campaigns",
    "lift": "tracker.reports.lift",
    "excluded": "tracker.reports.excluded",
}


def report_module(name: str) -> ModuleType:
    path = REPORTS.get(name)
    if path is None:
        raise NotFound(f"no report {name!r}; reports: {', '.join(REPORTS)}")
    return importlib.import_module(path)


async def report(request: Request) -> Response:
    name = request.path_params["name"]
    module = report_module(name)
    query = dict(request.query_params)
    principal = authorize(request, REPORT_ROLES, query.get("site") or None)
    request.app.state.rate_limiter.check_token(principal.token_id)
    params = module.Params.from_query(query)
    result = await run_in_threadpool(module.run, request.app.state.storage, params)
    return json_response(result)


routes = [Route("/api/reports/{name}", report, methods=["GET"])]
