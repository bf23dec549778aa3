"""Every route of the service, gathered from the wings; middleware for all of them."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import BaseRoute


def all_routes() -> list[BaseRoute]:
    from tracker.admin import routes as admin
    from tracker.admin import seed_routes as admin_seed
    from tracker.auth import routes as auth
    from tracker.dashboard import routes as dashboard
    from tracker.ingest import routes as ingest
    from tracker.openapi import routes as openapi
    from tracker.orders import routes as orders
    from tracker.privacy import routes as privacy
    from tracker.promos import routes as promos
    from tracker.reports import routes as reports
    from tracker.reports.trust import routes as trust
    from tracker.web import routes as web

    return [
        *ingest.routes, *orders.routes, *web.routes, *admin.routes, *admin_seed.routes, *auth.routes, *promos.routes,
        *reports.routes, *trust.routes, *privacy.routes, *dashboard.routes, *openapi.routes,
    ]


def middleware() -> list[Middleware]:
    from tracker.auth.audit import AuditMiddleware
    from tracker.auth.gate import AuthGate
    from tracker.security import CrossSiteGuard, SecurityHeaders

    return [Middleware(SecurityHeaders), Middleware(AuditMiddleware), Middleware(CrossSiteGuard), Middleware(AuthGate)]
