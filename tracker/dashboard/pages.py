"""The dashboard's pages: where each lives, who may open it, and the filters every page shares.

A page here is only a name, a title and a role set; what it shows is drawn in the browser by
`assets/src/pages.js` from the JSON API (so the figures are the API's by construction). The
filters (site, date range, traffic) are parsed here once, the same way for every page, and
handed to the page's script as plain parameters for its API calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tracker.auth.roles import REPORTS, TRUST
from tracker.auth.tokens import Principal
from tracker.errors import BadRequest
from tracker.vocabulary import check_site_id

PRESETS = (7, 30, 90)
DEFAULT_PRESET = 30
MAX_RANGE_DAYS = 800
MODELS = ("last_click", "first_click", "linear", "time_decay", "position")


@dataclass(frozen=True)
class Page:
    name: str  # the script's renderer and the template's key
    path: str
    title: str
    section: str  # "marketing" | "trust"
    roles: frozenset[str]
    blurb: str  # one line under the title: what this page answers


PAGES = (
    Page("overview", "/dashboard", "Overview", "marketing", REPORTS, "Visitors and pageviews over time, against the previous period."),
    Page("pages", "/dashboard/pages", "Pages", "marketing", REPORTS, "The most viewed pages, and where visits start and end."),
    Page("paths", "/dashboard/paths", "Paths", "marketing", REPORTS, "Where visitors go next from a page you choose."),
    Page("funnel", "/dashboard/funnel", "Funnel", "marketing", REPORTS,
         "How many visitors make it through the steps you pick, and where they drop off."),
    Page("promotions", "/dashboard/promotions", "Promotions", "marketing", REPORTS,
         "Impressions, clicks, conversions and revenue per promotion, under an attribution model."),
    Page("campaigns", "/dashboard/campaigns", "Campaigns", "marketing", REPORTS, "The same measures per UTM source, medium and campaign."),
    Page("lift", "/dashboard/lift", "Lift", "marketing", REPORTS,
         "Did a promotion change conversion? Exposed visitors against the holdout group."),
    Page("trust", "/dashboard/trust", "Visitors by trust", "trust", TRUST, "Visitors with the lowest trust scores, and why."),
    Page("trust_promotions", "/dashboard/trust/promotions", "Suspicious promotions", "trust", TRUST,
         "Promotions with suspicious clicks, and their share."),
    Page("trust_coupons", "/dashboard/trust/coupons", "Leaked coupons", "trust", TRUST,
         "Coupons used by unusually many visitors or networks."),
    Page("trust_networks", "/dashboard/trust/networks", "Networks", "trust", TRUST,
         "Network prefixes with many visitors or untrusted traffic."),
)
BY_NAME = {p.name: p for p in PAGES}
VISITOR = Page("trust_visitor", "/dashboard/trust/visitors", "Visitor", "trust", TRUST, "One visitor's trust signals and timeline.")


def nav_for(principal: Principal) -> list[tuple[str, list[Page]]]:
    """Role-aware navigation: a marketer never sees the trust section."""
    sections = [("Marketing", [p for p in PAGES if p.section == "marketing" and principal.role in p.roles])]
    trust = [p for p in PAGES if p.section == "trust" and principal.role in p.roles]
    if trust:
        sections.append(("Trust & safety", trust))
    return sections


@dataclass(frozen=True)
class Filters:
    site: str
    start: date
    end: date
    preset: str  # "7" | "30" | "90" | "custom"
    traffic: str

    @property
    def previous(self) -> tuple[date, date]:
        """The period of the same length just before this one (for the change figures)."""
        days = (self.end - self.start).days + 1
        return self.start - timedelta(days=days), self.start - timedelta(days=1)

    def api_params(self) -> dict[str, str]:
        return {"site": self.site, "from": self.start.isoformat(), "to": self.end.isoformat(), "traffic": self.traffic}


def _date(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2026-01-31") from None


def parse_filters(query: Mapping[str, str], sites: list[str], *, today: date | None = None) -> Filters:
    """Filters from the page's query string; defaults: the first visible site, the last 30 days,
    trusted traffic. Raises BadRequest with a message fit for the page."""
    today = today or datetime.now(UTC).date()
    site = query.get("site") or ("demo" if "demo" in sites else (sites[0] if sites else ""))
    if site:
        check_site_id(site)
    preset = query.get("range") or ("custom" if query.get("from") or query.get("to") else str(DEFAULT_PRESET))
    if preset in {str(n) for n in PRESETS}:
        end = today
        start = end - timedelta(days=int(preset) - 1)
    elif preset == "custom":
        end = _date(query["to"], "to") if query.get("to") else today
        start = _date(query["from"], "from") if query.get("from") else end - timedelta(days=DEFAULT_PRESET - 1)
    else:
        raise BadRequest("range must be 7, 30, 90 or custom")
    if start > end:
        raise BadRequest("the start date must not be after the end date")
    if (end - start).days > MAX_RANGE_DAYS:
        raise BadRequest(f"the range may span at most {MAX_RANGE_DAYS} days")
    traffic = query.get("traffic") or "trusted"
    if traffic not in ("trusted", "all"):
        raise BadRequest("traffic must be trusted or all")
    return Filters(site=site, start=start, end=end, preset=preset, traffic=traffic)


def snippet_tag(base_url: str, site: str) -> str:
    """The two-line tag of docs/snippet.md for this site, pointing at this tracker."""
    base = base_url.rstrip("/")
    return (
        "<script>window.tracker=window.tracker||function(){(tracker.q=tracker.q||[]).push(arguments)}</script>\n"
        f'<script defer src="{base}/snippet.js" data-site="{site}"></script>'
    )
