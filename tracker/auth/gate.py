"""The gate: no request reaches a protected API handler without a valid token of a role
that may use that part of the API.

Handlers still call `authorize(request, roles, site)` (it adds the per-site check and is the
documentation of each route); the gate makes the answer to a caller without a valid token a
uniform 401, and to the wrong role a 403, *before* any handler parses a body or a parameter —
so a handler that validates its input first, or a new route that forgets `authorize`, leaks
nothing and does nothing. Prefix -> roles follows CONTRACT §3-§5.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from tracker.auth.roles import ADMIN, REPORTS, TRUST, authenticate
from tracker.errors import Forbidden, TrackerError

PROTECTED: tuple[tuple[str, frozenset[str]], ...] = (
    ("/api/reports/", REPORTS),
    ("/api/trust/", TRUST),
    ("/api/privacy/", ADMIN),
    ("/api/admin/", ADMIN),
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
                principal = authenticate(request)
                if principal.role not in roles:
                    raise Forbidden(f"role {principal.role} may not use this")
            except TrackerError as exc:
                body = orjson.dumps({"error": exc.message})
                headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
                headers += [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
                await send({"type": "http.response.start", "status": exc.status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
