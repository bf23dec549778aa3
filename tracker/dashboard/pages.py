"""The dashboard's pages: where each lives, who may open it, and the filters every page shares.

A page here is only a name, a title and a role set; what it shows is drawn in the browser by
`assets/src/pages.js` from the JSON API (so the figures are the API's by construction). The
filters (site, date range, traffic) are parsed here once, the same way for every page, and
handed to the page's script as plain parameters for its API calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracker.auth.roles import REPORTS, TRUST
from tracker.auth.tokens import Principal
from tracker.errors import BadRequest
from tracker.reports.params import FILTER_DIMS
from tracker.reports.params import parse_filters as report_filters
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
    Page("overview", "/dashboard", "Overview", "marketing", REPORTS, "Visitors, pageviews and sales over time, against the previous period."),
    Page("now", "/dashboard/now", "Now", "marketing", REPORTS, "The last 30 minutes, minute by minute, refreshed every few seconds."),
    Page("sources", "/dashboard/sources", "Sources", "marketing", REPORTS,
         "Where visits come from: campaign tags, referring sites or direct, and what they are worth."),
    Page("pages", "/dashboard/pages", "Pages", "marketing", REPORTS, "The most viewed pages, and where visits start and end."),
    Page("paths", "/dashboard/paths", "Paths", "marketing", REPORTS, "Where visitors go next from a page you choose."),
    Page("funnel", "/dashboard/funnel", "Funnel", "marketing", REPORTS,
         "How many visitors make it through the steps you pick, and where they drop off."),
    Page("promotions", "/dashboard/promotions", "Promotions", "marketing", REPORTS,
         "Impressions, clicks, conversions and revenue per promotion, under an attribution model."),
    Page("campaigns", "/dashboard/campaigns", "Campaigns", "marketing", REPORTS, "The same measures per UTM source, medium and campaign."),
    Page("devices", "/dashboard/devices", "Devices", "marketing", REPORTS, "Visits by device type, browser and operating system."),
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


class FilterError(BadRequest):
    """A filter of the page that cannot be read: shown next to its field, not as an error page."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Filters:
    site: str
    start: date
    end: date
    preset: str  # "7" | "30" | "90" | "custom"
    traffic: str
    tz: str = ""  # IANA zone of the day boundaries; "" = the browser's (the page's script fills it in)
    chips: tuple[str, ...] = ()  # the reports' `filter=DIM:VALUE`s, kept in the page URL

    @property
    def previous(self) -> tuple[date, date]:
        """The period of the same length just before this one (for the change figures)."""
        days = (self.end - self.start).days + 1
        return self.start - timedelta(days=days), self.start - timedelta(days=1)

    def api_params(self) -> dict:
        params: dict = {"site": self.site, "from": self.start.isoformat(), "to": self.end.isoformat(), "traffic": self.traffic}
        if self.tz:
            params["tz"] = self.tz
        if self.chips:
            params["filter"] = list(self.chips)
        return params

    def page_query(self) -> dict:
        """What the page's own URL keeps (for links between pages): `filter` is a list."""
        keep: dict = {"site": self.site, "range": self.preset, "traffic": self.traffic}
        if self.preset == "custom":
            keep.update({"from": self.start.isoformat(), "to": self.end.isoformat()})
        if self.tz:
            keep["tz"] = self.tz
        if self.chips:
            keep["filter"] = list(self.chips)
        return keep


def _date(raw: str, name: str) -> date:
    try:
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise FilterError(name, f"{'From' if name == 'from' else 'To'} must be a date like 2026-01-31") from None


def _tz(raw: str) -> str:
    if not raw:
        return ""
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise FilterError("tz", f"{raw[:60]!r} is not a time zone (use a name like Europe/Paris)") from None
    return raw


def _chips(values: Sequence[str]) -> tuple[str, ...]:
    try:
        return tuple(str(f) for f in report_filters(list(values)))
    except BadRequest as exc:
        raise FilterError("filter", exc.message) from None


def parse_filters(query: Mapping[str, str], sites: list[str], *, today: date | None = None, chips: Sequence[str] = ()) -> Filters:
    """Filters from the page's query string; defaults: the first visible site, the last 30 days,
    trusted traffic, the browser's time zone, no report filter. Raises FilterError (naming the
    field, for an inline message) or BadRequest (a bad site id) with a message fit for the page."""
    tz = _tz(query.get("tz") or "")
    today = today or datetime.now(ZoneInfo(tz) if tz else UTC).date()
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
        raise FilterError("range", "The date range must be the last 7, 30 or 90 days, or custom")
    if start > end:
        raise FilterError("from", "The start date must not be after the end date")
    if (end - start).days > MAX_RANGE_DAYS:
        raise FilterError("from", f"The range may span at most {MAX_RANGE_DAYS} days")
    traffic = query.get("traffic") or "trusted"
    if traffic not in ("trusted", "all"):
        raise FilterError("traffic", "Traffic must be trusted or all")
    return Filters(site=site, start=start, end=end, preset=preset, traffic=traffic, tz=tz, chips=_chips(chips))


# Query keys a FilterError on a field drops, to show the page with the other filters kept.
FIELD_KEYS = {"from": ("from", "to", "range"), "to": ("from", "to", "range"), "range": ("from", "to", "range"),
              "traffic": ("traffic",), "tz": ("tz",), "filter": ()}


def parse_filters_leniently(query: Mapping[str, str], sites: list[str], chips: Sequence[str] = ()) -> tuple[Filters, dict[str, str]]:
    """The page's filters, and {field: message} for the ones that could not be read: those fall
    back to their defaults, so the page can show the message beside the field (400) instead of
    replacing itself with an error page."""
    errors: dict[str, str] = {}
    query = dict(query)
    chips = list(chips)
    for _ in range(len(FIELD_KEYS)):
        try:
            return parse_filters(query, sites, chips=chips), errors
        except FilterError as exc:
            errors.setdefault(exc.field, exc.message)
            for key in FIELD_KEYS[exc.field]:
                query.pop(key, None)
            if exc.field == "filter":
                chips = []
    return parse_filters({"site": query.get("site", "")}, sites), errors


def snippet_tag(base_url: str, site: str) -> str:
    """The two-line tag of docs/snippet.md for this site, pointing at this tracker."""
    base = base_url.rstrip("/")
    return (
        "<script>window.tracker=window.tracker||function(){(tracker.q=tracker.q||[]).push(arguments)}</script>\n"
        f'<script defer src="{base}/snippet.js" data-site="{site}"></script>'
    )
