"""`GET /api/reports/<name>`: the marketing reports' route table. The runner
(`tracker.reports.runner`) authorizes, parses the report's Params, runs it off the event loop
and answers JSON; a new report is a module listed here."""

from __future__ import annotations

from starlette.routing import Route

from tracker.auth.roles import REPORTS as REPORT_ROLES
from tracker.errors import NotFound
from tracker.reports import campaigns, devices, excluded, funnel, lift, live, overview, pages, paths, promotions, sources
from tracker.reports.runner import Report, dispatcher

REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report.of(overview, REPORT_ROLES),
        Report.of(pages, REPORT_ROLES),
        Report.of(paths, REPORT_ROLES),
        Report.of(funnel, REPORT_ROLES),
        Report.of(promotions, REPORT_ROLES),
        Report.of(campaigns, REPORT_ROLES),
        Report.of(sources, REPORT_ROLES),
        Report.of(devices, REPORT_ROLES),
        Report.of(live, REPORT_ROLES),
        Report.of(lift, REPORT_ROLES),
        # About the visitors `traffic=trusted` leaves out: always judged by the trusted rule.
        Report.of(excluded, REPORT_ROLES, traffic="trusted"),
    )
}


def _no_report(name: str) -> NotFound:
    return NotFound(f"no report {name!r}; reports: {', '.join(REPORTS)}")


routes = [Route("/api/reports/{name}", dispatcher(REPORTS, _no_report), methods=["GET"])]
