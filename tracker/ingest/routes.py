"""HTTP edge of ingest: /api/collect, /api/opt-out, /healthz, /readyz.

Handlers are thin: read the body within the limit, parse at the door, run the pipeline,
spool, answer. A 202 is sent only after the rows are durable in the spool.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.errors import PayloadTooLarge, Unavailable, UnsupportedMediaType
from tracker.ingest.pipeline import Accepted, RequestFacts
from tracker.ingest.schema import MAX_BODY_BYTES, parse_batch
from tracker.ingest.spool import SpoolFull
from tracker.ingest.visitor_id import COOKIE_NAME, OPTOUT_COOKIE

ACCEPTED_TYPES = ("application/json", "text/plain")
RETRY_AFTER_FULL = "5"


def json_response(payload: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, headers=headers, media_type="application/json")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def cors_headers(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Credentials": "true",
        "Vary": "Origin",
    }


def request_facts(request: Request) -> RequestFacts:
    headers = request.headers
    return RequestFacts(
        peer=request.client.host if request.client else None,
        forwarded_for=headers.get("x-forwarded-for"),
        origin=headers.get("origin"),
        user_agent=headers.get("user-agent", ""),
        cookie=request.cookies.get(COOKIE_NAME),
        optout_cookie=request.cookies.get(OPTOUT_COOKIE) == "1",
        gpc=headers.get("sec-gpc", "").strip() == "1",
        dnt=headers.get("dnt", "").strip() == "1",
    )


def is_secure(request: Request) -> bool:
    if request.url.scheme == "https":
        return True
    state = request.app.state
    peer = request.client.host if request.client else ""
    return request.headers.get("x-forwarded-proto", "") == "https" and state.network._is_proxy(peer)


async def collect(request: Request) -> Response:
    state = request.app.state
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ACCEPTED_TYPES:
        raise UnsupportedMediaType("send application/json or text/plain")
    batch = parse_batch(await read_body(request))
    facts = request_facts(request)
    state.rate_limiter.check_collect(request, batch.site, facts)
    outcome = state.pipeline.run(batch, facts)
    rejected = [{"index": r.index, "error": r.error} for r in outcome.rejected]
    headers = cors_headers(facts.origin) if facts.origin and outcome.origin_allowed else {}
    if not isinstance(outcome, Accepted):
        return json_response({"accepted": 0, "rejected": rejected}, 202, headers)
    if outcome.count:
        try:
            ticket = state.spool.append(outcome.payload)
        except SpoolFull:
            state.pipeline.dropped["spool_full"] += 1
            raise Unavailable("the event buffer is full; retry later", headers={"Retry-After": RETRY_AFTER_FULL, **headers}) from None
        await state.spool.wait_durable(ticket)
    response = json_response({"accepted": outcome.count, "rejected": rejected}, 202, headers)
    if outcome.set_cookie:
        response.headers.append("set-cookie", state.ids.cookie_header(outcome.set_cookie, secure=is_secure(request)))
    return response


async def preflight(request: Request) -> Response:
    """CORS preflight (needed for application/json; text/plain needs none)."""
    origin = request.headers.get("origin")
    site = request.query_params.get("site")
    state = request.app.state
    allowed = bool(origin) and (
        state.pipeline.origin_allowed(site, origin) if site else any(origin.lower().rstrip("/") in s.origins for s in state.sites._cache.values())
    )
    if not allowed:
        return Response(status_code=204)
    return Response(
        status_code=204,
        headers={
            **cors_headers(origin),
            "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": "86400",
        },
    )


async def opt_out(request: Request) -> Response:
    """The visitor opts out: set the opt-out cookie, drop the visitor cookie."""
    origin = request.headers.get("origin")
    headers = {}
    if origin and any(origin.lower().rstrip("/") in s.origins for s in request.app.state.sites._cache.values()):
        headers = cors_headers(origin)
    secure = "; Secure" if is_secure(request) else ""
    response = json_response({"opted_out": True}, 200, headers)
    response.headers.append("set-cookie", f"{OPTOUT_COOKIE}=1; Max-Age={400 * 24 * 3600}; Path=/; SameSite=Lax{secure}")
    response.headers.append("set-cookie", f"{COOKIE_NAME}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax{secure}")
    return response


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    state = request.app.state
    spool, flusher, pipeline = state.spool, state.flusher, state.pipeline
    storage_ok = await _in_thread(state.storage.ping)
    ready = storage_ok and not spool.full
    stats = flusher.stats
    body = {
        "status": "ready" if ready else "not ready",
        "storage": "ok" if storage_ok else "unreachable",
        "buffer": {
            "buffered_events": spool.buffered_events,
            "spool_bytes": spool.size_bytes,
            "spool_max_bytes": spool.max_bytes,
            "buffered_segments": len(spool.ready_segments()),
            "full": spool.full,
        },
        "flush": {
            "inserts": stats.inserts,
            "rows": stats.rows,
            "failures": stats.failures,
            "dead_letters": stats.dead_letters,
            "last_flush_at": stats.last_flush_at or None,
            "last_error": stats.last_error or None,
            "backoff_seconds": stats.backoff,
        },
        "ingest": {
            "accepted_events": pipeline.accepted_events,
            "rejected_events": pipeline.rejected_events,
            "dropped_requests": dict(pipeline.dropped),
        },
    }
    return json_response(body, 200 if ready else 503)


async def _in_thread(fn):
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn)


routes = [
    Route("/api/collect", collect, methods=["POST"]),
    Route("/api/collect", preflight, methods=["OPTIONS"]),
    Route("/api/opt-out", opt_out, methods=["POST"]),
    Route("/api/opt-out", preflight, methods=["OPTIONS"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
