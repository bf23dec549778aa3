"""`/api/trust/*` (roles fraud and admin): visitors, one visitor, promotions, coupons, networks,
and an on-demand refresh of the materialised signals. Handlers only authorize, build the
typed params (400 with a human message when invalid) and run the query off the event loop."""

from __future__ import annotations

from datetime import datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import TRUST, authorize
from tracker.ingest.routes import json_response
from tracker.reports._params import parse_common
from tracker.reports.trust import coupons, materialise, networks, promotions, visitors

LISTINGS = {"promotions": promotions, "coupons": coupons, "networks": networks}


def _authorize(request: Request, query: dict) -> None:
    principal = authorize(request, TRUST, query.get("site") or None)
    request.app.state.rate_limiter.check_token(principal.token_id)


async def list_visitors(request: Request) -> Response:
    query = dict(request.query_params)
    _authorize(request, query)
    params = visitors.Params.from_query(query)
    return json_response(await run_in_threadpool(visitors.run, request.app.state.storage, params))


async def one_visitor(request: Request) -> Response:
    query = dict(request.query_params)
    _authorize(request, query)
    params = visitors.VisitorParams.from_query(query, request.path_params["vid"])
    return json_response(await run_in_threadpool(visitors.run_one, request.app.state.storage, params))


async def listing(request: Request) -> Response:
    module = LISTINGS[request.url.path.rsplit("/", 1)[-1]]
    query = dict(request.query_params)
    _authorize(request, query)
    params = module.Params.from_query(query)
    return json_response(await run_in_threadpool(module.run, request.app.state.storage, params))


async def refresh(request: Request) -> Response:
    """Materialise the stale closed days of one site's range now (the job does it in time)."""
    query = dict(request.query_params)
    _authorize(request, query)
    common = parse_common(query)
    start = datetime.combine(common.start, datetime.min.time())
    end = datetime.combine(common.end, datetime.min.time()) + timedelta(days=1)
    days = await run_in_threadpool(
        materialise.refresh, request.app.state.storage, site=common.site, start=start, end=end, limit=common.end.toordinal() - common.start.toordinal() + 1
    )
    return json_response({"refreshed": [{"day": d.day.isoformat(), "events": d.raw} for d in days]})


routes = [
    Route("/api/trust/visitors", list_visitors, methods=["GET"]),
    Route("/api/trust/visitors/{vid:path}", one_visitor, methods=["GET"]),
    Route("/api/trust/promotions", listing, methods=["GET"]),
    Route("/api/trust/coupons", listing, methods=["GET"]),
    Route("/api/trust/networks", listing, methods=["GET"]),
    Route("/api/trust/refresh", refresh, methods=["POST"]),
]
