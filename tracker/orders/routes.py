"""`POST /api/orders`: the shop's backend confirms, corrects or refunds orders (CONTRACT §9).

Authenticated by a bearer token of role `ingest` (site-scoped, able to do nothing else) or
admin; a dashboard session cookie is not accepted here, since no browser should send orders.
Thin like `/api/collect`: read the bounded body, parse at the door, insert, answer — and the
202 comes only after the insert has completed (`tracker.orders.store`).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import ORDERS, authorize, bearer
from tracker.errors import NotFound, StorageError, Unauthorized, Unavailable, UnsupportedMediaType
from tracker.http import json_response, read_body, runtime_of
from tracker.orders import store
from tracker.orders.schema import MAX_BODY_BYTES, parse_batch

RETRY_AFTER = "5"


async def post_orders(request: Request) -> Response:
    if bearer(request) is None:
        raise Unauthorized("a bearer token of role ingest is required")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("send application/json")
    batch = parse_batch(await read_body(request, MAX_BODY_BYTES))
    principal = authorize(request, ORDERS, batch.site)
    runtime = runtime_of(request)
    if runtime.sites.get(batch.site) is None:
        raise NotFound(f"no site {batch.site!r}")
    rejected = [{"index": r.index, "error": r.error} for r in batch.rejected]
    if batch.orders:
        try:
            await run_in_threadpool(store.save, runtime.storage, batch.site, list(batch.orders), token_id=principal.token_id)
        except StorageError:
            raise Unavailable("storage is unavailable; the orders were not stored, retry later",
                              headers={"Retry-After": RETRY_AFTER}) from None
        runtime.trust_sets.notify_flushed()  # the money trust reasons read confirmations: re-check soon
    return json_response({"accepted": len(batch.orders), "rejected": rejected}, 202)


routes = [Route("/api/orders", post_orders, methods=["POST"])]
