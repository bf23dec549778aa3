"""`create_app(settings) -> Starlette`: wiring only — routes, middleware, error handlers, and the
one `Runtime` (every long-lived part) opened and closed with the app's lifespan."""

from __future__ import annotations

import contextlib
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from tracker import routing
from tracker.config import Settings
from tracker.errors import TrackerError
from tracker.http import error_response
from tracker.runtime import Runtime

log = logging.getLogger(__name__)


async def tracker_error(request: Request, exc: TrackerError) -> Response:
    return error_response(exc.message, exc.status, exc.headers or None)


async def http_error(request: Request, exc: HTTPException) -> Response:
    message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, exc.detail or "error")
    return error_response(message, exc.status_code, getattr(exc, "headers", None))


async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
    """The client left mid-request (e.g. mid-body): an ordinary outcome, counted, not an error
    (a traceback per disconnect would let anyone flood the log). Nobody reads the answer."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.pipeline.note_disconnect()
    log.debug("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response("internal error", 500)


def create_app(settings: Settings, runtime: Runtime | None = None) -> Starlette:
    """The service. With `runtime`, the app serves that runtime and leaves closing it to the
    caller (the CLI and the tests share one per process); without, it opens its own from
    `settings` at startup and closes it at shutdown. Handlers reach it with
    `tracker.http.runtime_of(request)`: `app.state.runtime` is the only app state."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        rt = runtime or Runtime.open(settings)
        app.state.runtime = rt
        rt.start()
        try:
            yield
        finally:
            if runtime is None:
                rt.close()

    return Starlette(
        routes=routing.all_routes(),
        middleware=routing.middleware(),
        exception_handlers={TrackerError: tracker_error, HTTPException: http_error, ClientDisconnect: client_gone,
                            Exception: unexpected_error},
        lifespan=lifespan,
    )
