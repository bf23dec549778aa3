"""Two guards in front of every route (pure ASGI: cheap enough for the collect hot path).

`SecurityHeaders`: security headers on every response, including the 500 for an unexpected
error, which carries no detail.

`CrossSiteGuard`: no state-changing request (any method but GET/HEAD/OPTIONS) from a page of
another origin reaches a handler, whatever it carries — forms, `fetch` with `text/plain`,
`sendBeacon`. It is the first line against CSRF; the dashboard's per-session CSRF token and
the `X-CSRF-Token` rule for cookie-authenticated API calls (tracker/auth/sessions.py) are the
second. The browser says where a request comes from (`Sec-Fetch-Site`, else `Origin`); a
request that says nothing is not from a browser page (curl, the CLI, a shop's backend) and
is judged by its credentials alone. Visitor-facing endpoints are *meant* to be called from
the shop's pages on other origins, so they are the exceptions, listed in `CROSS_SITE`:
`/api/collect` (an unregistered origin gets the contract's `202 {"accepted": 0}` from the
pipeline, nothing stored), and `/api/opt-out` / `/api/forget-me` (registered shop origins
only; 403 for any other). Everything else — the admin, privacy, trust and report APIs, the
dashboard's login and logout — answers 403 to another origin before any handler runs, so
a new route is covered without anyone remembering it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker.http import error_response

log = logging.getLogger(__name__)

BASE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
# The snippet's queue stub, the one inline script any page of ours carries (CONTRACT §7: the
# demo shop shows the tag exactly as a shop pastes it), allowed by its hash; no other inline
# script runs, so a value that slipped into a page unescaped still cannot execute.
SNIPPET_STUB = "window.tracker=window.tracker||function(){(tracker.q=tracker.q||[]).push(arguments)}"
STUB_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SNIPPET_STUB.encode()).digest()).decode()
# Every HTML answer (dashboard, demo, error pages) gets a page CSP; JSON one that allows nothing.
# Styles may be inline (the demo's per-product colour attributes); scripts never.
PAGE_CSP = (
    b"content-security-policy",
    (f"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' '{STUB_HASH}'; "
     "object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'").encode(),
)
# JSON and other API answers: nothing may run or frame them even if opened as a document.
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'; base-uri 'none'")


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend(h for h in BASE_HEADERS if h[0] not in present)
                if PAGE_CSP[0] not in present:  # a page that sets its own (the dashboard's, stricter) keeps it
                    kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                    if kind.startswith(b"text/html"):
                        headers.append(PAGE_CSP)
                    elif kind.startswith(b"application/json"):
                        headers.append(API_CSP)
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


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME = ("same-origin", "none")  # Sec-Fetch-Site values of our own pages, and of a typed URL/bookmark
# Unsafe routes called from shop pages on other origins: who decides about the caller.
PIPELINE, REGISTERED = "pipeline", "registered"
CROSS_SITE = {"/api/collect": PIPELINE, "/api/opt-out": REGISTERED, "/api/forget-me": REGISTERED}


def own_origins(scope: Scope, headers: Headers) -> set[str]:
    """This server's origins as a browser names them: the Host it was reached at (http or
    https: a TLS proxy in front changes the scheme, never the host) and the public URL."""
    host = headers.get("host", "").lower()
    found = {f"http://{host}", f"https://{host}"} if host else set()
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    public = getattr(getattr(runtime, "settings", None), "public_url", "") or ""
    if public:
        parts = urlsplit(public)
        found.add(f"{parts.scheme}://{parts.netloc}".lower())
    return found


def from_elsewhere(scope: Scope, headers: Headers | None = None) -> bool:
    """Whether a browser says this request comes from a page of another origin (another
    site, or another origin of the same site: a shop subdomain is no more trusted)."""
    headers = headers or Headers(scope=scope)
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.lower() not in SAME
    origin = headers.get("origin")
    if origin is None:
        return False  # no browser page behind it
    return origin == "null" or origin.lower().rstrip("/") not in own_origins(scope, headers)


class CrossSiteGuard:
    """403 for a state-changing request from another origin (see the module docstring)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method", "GET") in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        policy = CROSS_SITE.get(scope["path"])
        if policy == PIPELINE:  # the collect hot path: decided by its pipeline, at no cost here
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not from_elsewhere(scope, headers):
            await self.app(scope, receive, send)
            return
        if policy == REGISTERED and await self._registered(scope, headers.get("origin")):
            await self.app(scope, receive, send)
            return
        await error_response("cross-site requests may not change anything here", 403)(scope, receive, send)

    @staticmethod
    async def _registered(scope: Scope, origin: str | None) -> bool:
        runtime = getattr(scope["app"].state, "runtime", None) if "app" in scope else None
        if not origin or origin == "null" or runtime is None:
            return False
        return await run_in_threadpool(runtime.sites.known_origin, origin)
