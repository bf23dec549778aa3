"""`/api/trust/*` (roles fraud and admin): the trust wing's route table — visitors, one visitor,
promotions, coupons, networks, and an on-demand refresh of the materialised signals. Every
route goes through the report runner (`tracker.reports.runner`): authorize, parse the typed
params (400 with a human message when invalid), run off the event loop, answer with the
common envelope. The listings judge every visitor of the range (`traffic: all`); the
promotions listing also reads the range's untrusted set to count clicks by excluded visitors."""

from __future__ import annotations

from starlette.routing import Route

from tracker.auth.roles import TRUST as TRUST_ROLES
from tracker.reports.runner import Report, handler
from tracker.reports.trust import coupons, materialise, networks, promotions, visitors

VISITORS = Report.of(visitors, TRUST_ROLES, traffic="all")
VISITOR = Report("visitor", visitors.VisitorParams, visitors.run_one, TRUST_ROLES, "One visitor's signals, score and event timeline.",
                 traffic="all")
PROMOTIONS = Report.of(promotions, TRUST_ROLES, traffic="all", untrusted_set=True)
COUPONS = Report.of(coupons, TRUST_ROLES, traffic="all")
NETWORKS = Report.of(networks, TRUST_ROLES, traffic="all")
REFRESH = Report.of(materialise, TRUST_ROLES, name="refresh", traffic="all",
                    summary="Materialise the trust signals and session fragments of the range's stale closed days now.")

routes = [
    Route("/api/trust/visitors", handler(VISITORS), methods=["GET"]),
    Route("/api/trust/visitors/{vid:path}", handler(VISITOR), methods=["GET"]),
    Route("/api/trust/promotions", handler(PROMOTIONS), methods=["GET"]),
    Route("/api/trust/coupons", handler(COUPONS), methods=["GET"]),
    Route("/api/trust/networks", handler(NETWORKS), methods=["GET"]),
    Route("/api/trust/refresh", handler(REFRESH), methods=["POST"]),
]
