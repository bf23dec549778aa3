"""HTTP edge of ingest: /api/collect, /api/opt-out, /healthz, /readyz.

Handlers are thin: read the body within the limit, parse at the door, run the pipeline,
spool, answer. A 202 is sent only after the rows are durable in the spool.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.errors import Unavailable, UnsupportedMediaType
from tracker.http import cookie_header, cors_headers, is_secure, json_response, preflight, read_body, request_facts, runtime_of
from tracker.ingest.pipeline import Accepted
from tracker.ingest.schema import MAX_BODY_BYTES, parse_batch
from tracker.ingest.spool import SpoolFull, SpoolUnavailable
from tracker.vocabulary import COOKIE_NAME, OPTOUT_COOKIE

ACCEPTED_TYPES = ("application/json", "text/plain")
RETRY_AFTER_FULL = "5"
RETRY_AFTER_DISK = "10"  # a full or failing disk needs an operator or a flush to free space
OPTOUT_MAX_AGE = 400 * 24 * 3600


async def collect(request: Request) -> Response:
    runtime = runtime_of(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ACCEPTED_TYPES:
        raise UnsupportedMediaType("send application/json or text/plain")
    batch = parse_batch(await read_body(request, MAX_BODY_BYTES))
    facts = request_facts(request)
    outcome = runtime.pipeline.run(batch, facts)
    rejected = [{"index": r.index, "error": r.error} for r in outcome.rejected]
    headers = cors_headers(facts.origin) if facts.origin and outcome.origin_allowed else {}
    if not isinstance(outcome, Accepted):
        return json_response({"accepted": 0, "rejected": rejected}, 202, headers)
    if outcome.count:
        try:
            ticket = runtime.pipeline.spool(outcome)
            await runtime.pipeline.wait_durable(ticket)
        except SpoolFull:
            raise Unavailable("the event buffer is full; retry later", headers={"Retry-After": RETRY_AFTER_FULL, **headers}) from None
        except SpoolUnavailable:
            # Not acknowledged: the client retries (event ids make a retry count once).
            raise Unavailable("the event buffer cannot store events now; retry later",
                              headers={"Retry-After": RETRY_AFTER_DISK, **headers}) from None
    response = json_response({"accepted": outcome.count, "rejected": rejected}, 202, headers)
    if outcome.set_cookie:
        response.headers.append("set-cookie", runtime.ids.cookie_header(outcome.set_cookie, secure=is_secure(request)))
    return response


async def opt_out(request: Request) -> Response:
    """The visitor opts out: set the opt-out cookie, drop the visitor cookie."""
    origin = request.headers.get("origin")
    headers = cors_headers(origin) if origin and runtime_of(request).sites.known_origin(origin) else {}
    secure = is_secure(request)
    response = json_response({"opted_out": True}, 200, headers)
    # Not HttpOnly: the snippet reads it to stop sending at all.
    response.headers.append("set-cookie", cookie_header(OPTOUT_COOKIE, "1", secure=secure, max_age=OPTOUT_MAX_AGE, http_only=False))
    response.headers.append("set-cookie", cookie_header(COOKIE_NAME, "", secure=secure, max_age=0))
    return response


async def healthz(request: Request) -> Response:
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime = runtime_of(request)
    spool, flusher, pipeline = runtime.spool, runtime.flusher, runtime.pipeline
    storage_ok = await run_in_threadpool(runtime.storage.ping)
    reasons = [why for why, bad in (("storage unreachable", not storage_ok), ("event buffer full", spool.full),
                                    (spool.fault, bool(spool.fault))) if bad]
    ready = not reasons
    stats = flusher.stats
    body = {
        "status": "ready" if ready else "not ready",
        "reasons": reasons,
        "storage": "ok" if storage_ok else "unreachable",
        "buffer": {
            "buffered_events": spool.buffered_events,
            "spool_bytes": spool.size_bytes,
            "spool_max_bytes": spool.max_bytes,
            "buffered_segments": len(spool.ready_segments()),
            "full": spool.full,
            "disk_fault": spool.fault or None,
            "disk_faults": spool.faults,
            "quarantine": spool.quarantine.stats(),
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
            "client_disconnects": pipeline.client_disconnects,
        },
    }
    return json_response(body, 200 if ready else 503)


routes = [
    Route("/api/collect", collect, methods=["POST"]),
    Route("/api/collect", preflight, methods=["OPTIONS"]),
    Route("/api/opt-out", opt_out, methods=["POST"]),
    Route("/api/opt-out", preflight, methods=["OPTIONS"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
