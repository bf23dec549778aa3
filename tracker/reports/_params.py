"""Parameters every report takes, validated once with human messages.

`site` (required), `from`/`to` (ISO dates, UTC unless `tz`, both inclusive; default the last
30 days), `traffic` (`trusted` default, or `all`), `tz` (IANA name for day boundaries).
Each report's own `Params` embeds `Common` and adds its parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tracker.errors import BadRequest
from tracker.ingest.schema import SITE_RE
from tracker.reports.trust.score import trust_params

TRAFFIC = ("trusted", "all")
MAX_RANGE_DAYS = 800
DEFAULT_RANGE_DAYS = 30


@dataclass(frozen=True)
class Common:
    site: str
    start: date  # inclusive
    end: date  # inclusive
    traffic: str = "trusted"
    tz: str = "UTC"
    trust_set: int = 0  # id of the range's untrusted set (trust.cache.prepare), 0 until resolved

    @property
    def start_ts(self) -> datetime:
        """First instant of `start` in `tz`, as UTC (bind as DateTime64(3, 'UTC'))."""
        return datetime.combine(self.start, datetime.min.time(), ZoneInfo(self.tz)).astimezone(UTC).replace(tzinfo=None)

    @property
    def end_ts(self) -> datetime:
        """First instant after `end` in `tz` (exclusive bound), as UTC."""
        return datetime.combine(self.end + timedelta(days=1), datetime.min.time(), ZoneInfo(self.tz)).astimezone(UTC).replace(tzinfo=None)

    @property
    def trusted_only(self) -> bool:
        return self.traffic == "trusted"

    def bind(self) -> dict:
        """The bound parameters every report's SQL uses: {site}, {start}, {end}, {tz}, plus the
        trust fragment's {threshold} and thresholds, and {tt_set} (unused parameters are ignored)."""
        return {"site": self.site, "start": self.start_ts, "end": self.end_ts, "tz": self.tz, "tt_set": self.trust_set, **trust_params()}


def _date(raw: str | None, name: str) -> date | None:
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(raw[:10]) if len(raw) >= 10 else date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO date like 2026-01-31, got {raw!r}") from None


def parse_common(query: Mapping[str, str], *, today: date | None = None) -> Common:
    site = query.get("site") or ""
    if not site:
        raise BadRequest("site is required")
    if not SITE_RE.match(site):
        raise BadRequest("site must be a site id (letters, digits, . _ -)")
    tz = query.get("tz") or "UTC"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadRequest(f"tz must be an IANA time zone like Europe/Paris, got {tz!r}") from None
    today = today or datetime.now(ZoneInfo(tz)).date()
    end = _date(query.get("to"), "to") or today
    start = _date(query.get("from"), "from") or end - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if start > end:
        raise BadRequest("from must not be after to")
    if (end - start).days > MAX_RANGE_DAYS:
        raise BadRequest(f"the range may span at most {MAX_RANGE_DAYS} days")
    traffic = query.get("traffic") or "trusted"
    if traffic not in TRAFFIC:
        raise BadRequest("traffic must be trusted or all")
    return Common(site=site, start=start, end=end, traffic=traffic, tz=tz)


def int_param(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number") from None
    if not lo <= value <= hi:
        raise BadRequest(f"{name} must be between {lo} and {hi}")
    return value


@dataclass(frozen=True)
class Listing:
    """Common parameters plus `limit`: the shape of every ranked listing."""

    common: Common
    limit: int

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Listing:
        return cls(common=parse_common(query), limit=int_param(query, "limit", 100, 1, 10_000))

    def bind(self) -> dict:
        return {**self.common.bind(), "limit": self.limit}


@dataclass(frozen=True)
class Ranged:
    """Only the common parameters: reports with nothing of their own to ask."""

    common: Common

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Ranged:
        return cls(parse_common(query))
