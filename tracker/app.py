"""`create_app(settings) -> Starlette`: wiring only — routes, middleware, error handlers, and the
long-lived parts (storage, spool, flusher) opened and closed with the app's lifespan."""

from __future__ import annotations

import contextlib
import logging

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from tracker.config import Settings
from tracker.errors import TrackerError
from tracker.runtime import Runtime

log = logging.getLogger(__name__)


def _error(message: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps({"error": message}), status_code=status, headers=headers, media_type="application/json")


async def tracker_error(request: Request, exc: TrackerError) -> Response:
    return _error(exc.message, exc.status, exc.headers or None)


async def http_error(request: Request, exc: HTTPException) -> Response:
    message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail or "error")
    return _error(message, exc.status_code, getattr(exc, "headers", None))


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _error("internal error", 500)


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    from tracker import routing

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        rt = runtime or Runtime.open(settings)
        rt.attach(app.state)
        rt.start()
        try:
            yield
        finally:
            if runtime is None:
                rt.close()
            else:
                rt.stop_background()

    app = Starlette(
        routes=routing.all_routes(),
        middleware=routing.middleware(settings),
        exception_handlers={TrackerError: tracker_error, HTTPException: http_error, Exception: unexpected_error},
        lifespan=lifespan,
    )
    return app
