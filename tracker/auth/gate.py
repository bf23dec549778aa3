"""The gate: no request reaches a protected API handler without a valid token of a role
that may use that part of the API.

Handlers still call `authorize(request, roles, site)` (it adds the per-site check and is the
documentation of each route); the gate makes the answer to a caller without a valid token a
uniform 401, and to the wrong role a 403, *before* any handler parses a body or a parameter —
so a handler that validates its input first, or a new route that forgets `authorize`, leaks
nothing and does nothing. Prefix -> roles: reports for marketer, fraud and admin, trust for
fraud and admin, privacy and administration for admin (the API's reports, trust, privacy and
admin sections), orders for ingest and admin (an ingest token reaches nothing else).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tracker.auth.roles import ADMIN, ORDERS, REPORTS, TRUST, authenticate
from tracker.errors import Forbidden, TrackerError
from tracker.http import error_response

PROTECTED: tuple[tuple[str, frozenset[str]], ...] = (
    ("/api/reports/", REPORTS),
    ("/api/trust/", TRUST),
    ("/api/privacy/", ADMIN),
    ("/api/admin/", ADMIN),
    ("/api/orders", ORDERS),
)


def roles_for(path: str) -> frozenset[str] | None:
    return next((roles for prefix, roles in PROTECTED if path.startswith(prefix)), None)


class AuthGate:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        roles = roles_for(scope["path"]) if scope["type"] == "http" and scope.get("method") != "OPTIONS" else None
        if roles is not None:
            request = Request(scope, receive)
            try:
                # Off the event loop: verifying a token or a session may read storage (every
                # CACHE_SECONDS), and behind a running report that read would hold every
                # request of the process, collect included.
                principal = await run_in_threadpool(authenticate, request)
                if principal.role not in roles:
                    raise Forbidden(f"role {principal.role} may not use this")
            except TrackerError as exc:
                await error_response(exc.message, exc.status, exc.headers or None)(scope, receive, send)
                return
        await self.app(scope, receive, send)
