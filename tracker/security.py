"""Security headers on every response (pure ASGI: cheap enough for the collect hot path),
including the 500 for an unexpected error, which carries no detail."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker.http import error_response

log = logging.getLogger(__name__)

BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
NOT_PAGES = ("/snippet.js", "/healthz", "/readyz")
# Pages (dashboard, demo) get a CSP; API responses are JSON and need none beyond nosniff.
PAGE_CSP = (
    b"content-security-policy",
    b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; "
    b"frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_page = not scope["path"].startswith("/api/") and scope["path"] not in NOT_PAGES

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in BASE_HEADERS if h[0] not in present)
                if is_page and PAGE_CSP[0] not in present:
                    headers.append(PAGE_CSP)
                if scope["path"].startswith("/api/") and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        started = False

        async def send_tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send_with_headers(message)

        try:
            await self.app(scope, receive, send_tracked)
        except Exception:
            # An unexpected error would otherwise be answered by Starlette's outermost
            # middleware, outside this one, without these headers. Same answer, with them.
            log.exception("unhandled error on %s %s", scope.get("method"), scope["path"])
            if started:
                raise
            await error_response("internal error", 500)(scope, receive, send_with_headers)
