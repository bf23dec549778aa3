"""From signals to a 0-100 trust score per visitor, with reasons and their evidence.

score = max(0, 100 - sum of the weights of the reasons that fired); 100 is fully trusted.
A visitor is *excluded* from trusted traffic when score <= the exclusion threshold
(`trust_threshold`, default 50): with the default weights, each strong reason excludes on
its own (weight >= 50: a bot user agent, headless, webdriver, velocity, repeated clicks
without a view, repeated fast clicks, a click burst, only clicks or only purchases and never a
page, pageviews only from HTTP libraries, an unsigned or forged id, cookie churn, a leaked
coupon); the weak ones (a purchase without a prior pageview, clock
skew, a scripted client) only in combination, because legitimate server-side senders and
badly set clocks produce them too.

The SQL computes reasons and score (so listings can filter and sort in ClickHouse); `score_of`
and `evidence` are the same arithmetic as pure functions, tested without a database.
Thresholds and weights are bound parameters (`trust_params`) of one `TrustConfig`, built from
Settings in `Runtime.open` (`runtime.trust`) and passed to every query explicitly; the report
runner binds them for every report (`tracker.reports.runner.Context.bind`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.config import Settings
from tracker.errors import ConfigError
from tracker.http import iso_time
from tracker.reports.trust import revenue as revenue_rules
from tracker.reports.trust.leaks import leak_evidence
from tracker.reports.trust.signals import PARTIALS_VERSION, VISITOR_SIGNALS, bind_coverage
from tracker.vocabulary import SCRIPTED_CLIENT

# Reason code -> (default weight, the SQL condition on VISITOR_SIGNALS columns that fires it).
REASONS: dict[str, tuple[int, str]] = {
    "bot_user_agent": (100, "bot_events > 0"),
    "headless": (100, "headless_events > 0"),
    "webdriver": (100, "webdriver_events > 0"),
    "velocity": (60, "max_per_minute > {tt_velocity:UInt32}"),
    # blind clicks must also be at least half the pageviews: an ad-blocker that drops view
    # beacons leaves a browsing shopper with a few blind clicks among many pages
    "click_without_view": (50, "clicks_without_view >= {tt_cwv_min:UInt32} AND clicks_without_view * 2 >= pageviews"),
    "fast_click": (50, "fast_clicks >= {tt_fast_click_min:UInt32}"),
    "purchase_without_pageview": (20, "purchases_without_pageview > 0"),
    "actions_only": (50, "events > 0 AND (purchases = events OR (clicks = events AND clicks >= 2))"),
    "unsigned_id": (50, "unsigned_events > 0"),
    "forged_cookie": (60, "forged_events > 0"),
    "cookie_churn_ip": (50, "churn_ids >= {tt_churn_ids:UInt32}"),
    # a leak, with evidence about the visitor (leaks.py); 60 so that a leaker lands below the threshold
    "coupon_shared": (60, "shared_coupon != ''"),
    "clock_skew": (20, "max_skew_ms > {tt_clock_skew_ms:UInt64}"),
    "scripted_client": (10, "scripted_events > 0"),
    # issue #14
    "scripted_pageviews": (60, "pageviews > 0 AND scripted_pageviews = pageviews"),
    "click_burst": (50, "max_clicks_10s >= {tt_click_burst:UInt32}"),
}
REASONS.update(revenue_rules.REASONS)  # money claimed against orders confirmed (trust/revenue.py)
CODES = tuple(REASONS)


@dataclass(frozen=True)
class TrustConfig:
    """The trust settings of a process, read once from `Settings` (whose fields hold the one
    set of defaults); weights are REASONS' defaults with `trust_weights` applied."""

    threshold: int
    weights: Mapping[str, int]
    velocity_per_minute: int
    fast_click_ms: int
    fast_click_min: int
    click_without_view_min: int
    clock_skew_seconds: int
    churn_ids: int
    churn_window_seconds: int
    coupon_visitors: int
    coupon_prefixes: int
    public_coupons: tuple[str, ...]
    click_burst: int
    leak_prefix_redeemers: int
    leak_burst_redeemers: int
    leak_burst_seconds: int
    leak_fresh_seconds: int
    leak_browse_pageviews: int
    revenue: tuple[tuple[str, Any], ...] = ()  # trust/revenue.py's bound parameters

    @classmethod
    def from_settings(cls, settings: Settings) -> TrustConfig:
        if not 0 <= settings.trust_threshold <= 100:
            raise ConfigError("trust_threshold must be between 0 and 100")
        return cls(
            threshold=settings.trust_threshold,
            weights=parse_weights(settings.trust_weights),
            velocity_per_minute=settings.trust_velocity_per_minute,
            fast_click_ms=settings.trust_fast_click_ms,
            fast_click_min=settings.trust_fast_click_min,
            click_without_view_min=settings.trust_click_without_view_min,
            clock_skew_seconds=settings.trust_clock_skew_seconds,
            churn_ids=settings.trust_churn_ids,
            churn_window_seconds=settings.trust_churn_window_seconds,
            coupon_visitors=settings.trust_coupon_visitors,
            coupon_prefixes=settings.trust_coupon_prefixes,
            public_coupons=tuple(c.strip().upper() for c in settings.trust_public_coupons if c.strip()),
            click_burst=settings.trust_click_burst,
            leak_prefix_redeemers=settings.trust_leak_prefix_redeemers,
            leak_burst_redeemers=settings.trust_leak_burst_redeemers,
            leak_burst_seconds=settings.trust_leak_burst_seconds,
            leak_fresh_seconds=settings.trust_leak_fresh_seconds,
            leak_browse_pageviews=settings.trust_leak_browse_pageviews,
            revenue=tuple(revenue_rules.params(settings).items()),
        )

    @property
    def partials_config(self) -> str:
        """What materialised partials depend on: a day computed under another value is stale."""
        text = f"v{PARTIALS_VERSION}|fast={self.fast_click_ms}|{SCRIPTED_CLIENT}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_weights(overrides: Sequence[str]) -> dict[str, int]:
    weights = {code: w for code, (w, _) in REASONS.items()}
    for item in overrides:
        code, sep, raw = item.partition("=")
        code = code.strip()
        if not sep or code not in REASONS:
            raise ConfigError(f"trust_weights: {item!r} is not reason=weight with a reason among {', '.join(CODES)}")
        try:
            weight = int(raw)
        except ValueError:
            raise ConfigError(f"trust_weights: weight of {code} must be a whole number 0..100") from None
        if not 0 <= weight <= 100:
            raise ConfigError(f"trust_weights: weight of {code} must be between 0 and 100")
        weights[code] = weight
    return weights


def trust_params(c: TrustConfig) -> dict[str, Any]:
    """Bound parameters of every trust fragment (the report runner binds them for every report)."""
    return {
        "threshold": c.threshold,
        "trust_weights": [c.weights[code] for code in CODES],
        "tt_velocity": c.velocity_per_minute,
        "tt_fast_click_ms": c.fast_click_ms,
        "tt_fast_click_min": c.fast_click_min,
        "tt_cwv_min": c.click_without_view_min,
        "tt_clock_skew_ms": c.clock_skew_seconds * 1000,
        "tt_churn_ids": c.churn_ids,
        "tt_churn_window_ms": c.churn_window_seconds * 1000,
        "tt_coupon_visitors": c.coupon_visitors,
        "tt_coupon_prefixes": c.coupon_prefixes,
        "tt_public_coupons": list(c.public_coupons),
        "tt_scripted_re": SCRIPTED_CLIENT,
        "tt_partials": c.partials_config,
        "tt_click_burst": c.click_burst,
        "tt_leak_prefix_redeemers": c.leak_prefix_redeemers,
        "tt_leak_burst_redeemers": c.leak_burst_redeemers,
        "tt_leak_burst_ms": c.leak_burst_seconds * 1000,
        "tt_leak_fresh_ms": c.leak_fresh_seconds * 1000,
        "tt_leak_browse_pageviews": c.leak_browse_pageviews,
        **(dict(c.revenue) or revenue_rules.params(Settings.load({}, env={}))),
    }


_CODE_ARRAY = "[" + ", ".join(f"'{code}'" for code in CODES) + "]"
_FIRED_ARRAY = "[" + ", ".join(f"({cond})" for _, cond in REASONS.values()) + "]"

# One row per visitor of the range: signal columns, `reasons` (codes in CODES order) and `score`.
VISITOR_SCORES = f"""
    SELECT *,
           arrayFilter((code, hit) -> hit, {_CODE_ARRAY}, fired) AS reasons,
           toUInt8(greatest(0, 100 - toInt64(arraySum(arrayMap((w, hit) -> if(hit, w, 0), {{trust_weights:Array(UInt8)}}, fired))))) AS score
    FROM (SELECT *, {_FIRED_ARRAY} AS fired FROM ({revenue_rules.with_revenue_signals(VISITOR_SIGNALS)}))
"""


def range_scores(storage, config: TrustConfig, site: str, start: datetime, end: datetime) -> dict[str, tuple[int, list[str]]]:
    """vid -> (score, reasons) of every visitor of `site` over [start, end) (UTC), as the
    reports see them (the trust evaluation's scorer)."""
    params = bind_coverage(storage, {"site": site, "start": start, "end": end, **trust_params(config)})
    rows = storage.query(f"SELECT vid, score, reasons FROM ({VISITOR_SCORES})", params, what="scoring visitors").rows
    return {vid: (int(s), list(reasons)) for vid, s, reasons in rows}


def score_of(reasons: Sequence[str], weights: Mapping[str, int]) -> int:
    """The score of a visitor with these reasons (the SQL's arithmetic)."""
    return max(0, 100 - sum(weights[r] for r in set(reasons)))


def excluded(score: int, threshold: int) -> bool:
    return score <= threshold


def evidence(row: Mapping[str, Any], c: TrustConfig) -> dict[str, dict[str, Any]]:
    """Evidence for each reason of a VISITOR_SCORES row: the counts and times behind it."""
    out: dict[str, dict[str, Any]] = {}
    for reason in row["reasons"]:
        if reason == "bot_user_agent":
            out[reason] = {"events": row["bot_events"]}
        elif reason == "headless":
            out[reason] = {"events": row["headless_events"]}
        elif reason == "webdriver":
            out[reason] = {"events": row["webdriver_events"]}
        elif reason == "velocity":
            out[reason] = {"max_events_per_minute": row["max_per_minute"], "minute": iso_time(row["velocity_at"]), "threshold": c.velocity_per_minute}
        elif reason == "click_without_view":
            out[reason] = {"clicks": row["clicks_without_view"], "of_clicks": row["clicks"], "pageviews": row["pageviews"],
                           "threshold": c.click_without_view_min}
        elif reason == "fast_click":
            out[reason] = {"clicks": row["fast_clicks"], "fastest_ms": row["min_click_ms"], "threshold_ms": c.fast_click_ms, "threshold": c.fast_click_min}
        elif reason == "purchase_without_pageview":
            out[reason] = {"purchases": row["purchases_without_pageview"], "of_purchases": row["purchases"]}
        elif reason == "actions_only":
            out[reason] = {"events": row["events"], "clicks": row["clicks"], "purchases": row["purchases"]}
        elif reason == "unsigned_id":
            out[reason] = {"events": row["unsigned_events"]}
        elif reason == "forged_cookie":
            out[reason] = {"events": row["forged_events"]}
        elif reason == "cookie_churn_ip":
            out[reason] = {"ip_prefix": row["first_prefix"], "fresh_ids": row["churn_ids"], "window_seconds": c.churn_window_seconds}
        elif reason == "coupon_shared":
            out[reason] = {"coupon": row["shared_coupon"], "visitors": row["shared_coupon_visitors"], "ip_prefixes": row["shared_coupon_prefixes"],
                           **leak_evidence(row)}
        elif reason == "clock_skew":
            out[reason] = {"max_skew_seconds": round(row["max_skew_ms"] / 1000, 3), "threshold_seconds": c.clock_skew_seconds}
        elif reason == "scripted_client":
            out[reason] = {"events": row["scripted_events"]}
        elif reason == "scripted_pageviews":
            out[reason] = {"pageviews": row["pageviews"], "scripted_pageviews": row["scripted_pageviews"]}
        elif reason == "click_burst":
            out[reason] = {"max_clicks_10s": row["max_clicks_10s"], "threshold": c.click_burst}
        elif reason in revenue_rules.REASONS:
            out[reason] = revenue_rules.evidence(reason, row)
    return out
