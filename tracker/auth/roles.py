"""Who may do what. Every protected handler calls `authorize` first.

marketer: reports. fraud: reports + trust. admin: everything (privacy, tokens, sites, promos).
ingest: `POST /api/orders` for its sites and nothing else (the shop's backend confirming orders).

Site scope: a token limited to some sites acts only on them, whatever its role. A site outside
its scope is answered exactly like a site that does not exist — `404 {"error": "no site 'x'"}`
— never 403, so a token of shop A cannot even learn that site B exists (a 403 would confirm
it). 403 is kept for what the caller's token may never do whatever the site: the wrong role,
or an action that needs every site (a scoped admin minting an unscoped token, erasing without
naming a site). See docs/security.md.
"""

from __future__ import annotations

from starlette.requests import Request

from tracker.auth.sessions import principal_from_session
from tracker.auth.tokens import Principal
from tracker.errors import Forbidden, NotFound, Unauthorized
from tracker.http import runtime_of

REPORTS = frozenset({"marketer", "fraud", "admin"})
TRUST = frozenset({"fraud", "admin"})
ADMIN = frozenset({"admin"})
# The shop's backend confirming orders; an ingest token is always limited to its sites.
ORDERS = frozenset({"ingest", "admin"})


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def authenticate(request: Request) -> Principal:
    """Who is calling (bearer token, or the dashboard's session cookie); 401 if nobody valid.
    Remembered on `request.state`, so the gate and the handler look the token up once."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        token = bearer(request)
        principal = runtime_of(request).tokens.verify(token) if token else None
        if token is None:
            # Dashboard pages call this API with their signed session cookie instead of a
            # bearer header (GET/HEAD, or with the session's X-CSRF-Token; tracker/auth/sessions.py).
            # No cookie: the same 401 as without a token.
            principal = principal_from_session(request)
        if principal is None:
            raise Unauthorized("a valid bearer token is required" if token is None else "this token is not valid")
        request.state.principal = principal
    return principal


def note_site(request: Request, *sites: str) -> None:
    """Name the site(s) an action touched, for the audit log (comma-separated when several)."""
    request.state.site = ",".join(s for s in sites if s)


def note_action(request: Request, detail: str) -> None:
    """Say what an admin action did, for the audit log's `detail` (never a visitor id)."""
    request.state.audit_detail = detail


def check_sites(principal: Principal, sites: list[str]) -> None:
    """A scoped principal may only name sites of its own: 404 for any other (see above)."""
    for site in sites:
        if not principal.may_see_site(site):
            raise NotFound(f"no site {site!r}")


def authorize(request: Request, roles: frozenset[str], site: str | None = None) -> Principal:
    principal = authenticate(request)
    if site is not None:
        request.state.site = site  # for the audit log (tracker.auth.audit)
    if principal.role not in roles:
        raise Forbidden(f"role {principal.role} may not use this")
    if site is not None and not principal.may_see_site(site):
        raise NotFound(f"no site {site!r}")
    return principal
