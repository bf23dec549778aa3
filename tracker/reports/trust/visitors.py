"""`/api/trust/visitors` and `/api/trust/visitors/{vid}`: who looks automated or abusive, and why.

How the query works: `score.VISITOR_SCORES` gives one row per visitor of the range (signals,
reason codes, score); the listing filters it in ClickHouse (score <= max_score, optional
reason), sorts lowest score first and pages with LIMIT/OFFSET, `count() OVER ()` giving the
total. The detail view takes the same row for one visitor — signals such as cookie churn and
shared coupons are judged against the whole population of the range, so it is the same
query filtered afterwards — plus the visitor's event timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracker.errors import BadRequest, NotFound
from tracker.http import iso_time
from tracker.reports.params import param
from tracker.reports.runner import Context
from tracker.reports.trust import revenue as revenue_rules
from tracker.reports.trust.score import CODES, VISITOR_SCORES, TrustConfig, evidence

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 10_000_000
TIMELINE_LIMIT = 1000
MAX_VID_LEN = 200


@dataclass(frozen=True)
class Params:
    reason: str = param("only visitors with this reason code", "", choices=CODES)
    max_score: int | None = param("visitors with a score at or below this (default: the exclusion threshold)", None, lo=0, hi=100)
    limit: int = param("rows per page", DEFAULT_LIMIT, lo=1, hi=MAX_LIMIT)
    offset: int = param("rows to skip", 0, lo=0, hi=MAX_OFFSET)


_FILTER = """
    WHERE score <= {max_score:UInt8} AND ({reason:String} = '' OR has(reasons, {reason:String}))
"""

LIST_SQL = f"""
    SELECT *, count() OVER () AS total
    FROM ({VISITOR_SCORES})
    {_FILTER}
    ORDER BY score ASC, events DESC, vid ASC
    LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
"""

COUNT_SQL = f"SELECT count() FROM ({VISITOR_SCORES}) {_FILTER}"


def shape(row: Mapping[str, Any], config: TrustConfig) -> dict[str, Any]:
    """One visitor of a VISITOR_SCORES row, as the listing shows it (pure)."""
    return {
        "vid": row["vid"],
        "score": int(row["score"]),
        "reasons": list(row["reasons"]),
        "evidence": evidence(row, config),
        "events": int(row["events"]),
        "first_seen": iso_time(row["first_seen"]),
        "last_seen": iso_time(row["last_seen"]),
    }


def run(ctx: Context, params: Params) -> dict:
    max_score = ctx.trust.threshold if params.max_score is None else params.max_score
    bind = ctx.bind_coverage(max_score=max_score, limit=params.limit, offset=params.offset, reason=params.reason)
    rows = ctx.storage.dicts(LIST_SQL, bind, what="trust visitors")
    if rows:
        total = int(rows[0]["total"])
    else:  # a page past the end still says how many there are
        total = int(ctx.storage.scalar(COUNT_SQL, bind, what="trust visitors") or 0)
    return {"rows": [shape(r, ctx.trust) for r in rows], "total": total}


# --- one visitor ---------------------------------------------------------------------------

def _vid(raw: str | None) -> str:
    if not raw or len(raw) > MAX_VID_LEN:
        raise BadRequest(f"visitor id must be 1 to {MAX_VID_LEN} characters")
    return raw


@dataclass(frozen=True)
class VisitorParams:
    vid: str = param("the visitor id", parse=_vid, location="path")


ONE_SQL = f"SELECT * FROM ({VISITOR_SCORES}) WHERE vid = {{vid:String}}"

TIMELINE_SQL = """
    SELECT ts, client_ts, type, path, promo_id, promo_variant, order_id, toFloat64(revenue) AS revenue, coupon,
           ua_browser, ua_device, ip_prefix, vid_signed, id_forged, env_webdriver, ua_is_bot, ua_headless, has_origin
    FROM events FINAL
    WHERE site = {site:String} AND vid = {vid:String}
      AND ts >= {start:DateTime64(3, 'UTC')} AND ts < {end:DateTime64(3, 'UTC')}
    ORDER BY ts, event_id
    LIMIT {timeline_limit:UInt32}
"""

# Every signal's measured value, whether or not it fired: the fraud team sees near misses too.
SIGNAL_VALUES = {
    "bot_user_agent": "bot_events",
    "headless": "headless_events",
    "webdriver": "webdriver_events",
    "velocity": "max_per_minute",
    "click_without_view": "clicks_without_view",
    "fast_click": "fast_clicks",
    "purchase_without_pageview": "purchases_without_pageview",
    "actions_only": "events",
    "unsigned_id": "unsigned_events",
    "forged_cookie": "forged_events",
    "cookie_churn_ip": "churn_ids",
    "coupon_shared": "shared_coupon_visitors",
    "clock_skew": "max_skew_ms",
    "scripted_client": "scripted_events",
    "scripted_pageviews": "scripted_pageviews",
    "click_burst": "max_clicks_10s",
    **revenue_rules.SIGNAL_VALUES,
}


FLAGS = ("vid_signed", "id_forged", "ua_is_bot", "ua_headless", "has_origin", "env_webdriver")  # shown as booleans


def timeline_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **{k: iso_time(v) for k, v in row.items() if k not in FLAGS},
        "signed": bool(row["vid_signed"]),
        "forged": bool(row["id_forged"]),
        "bot": bool(row["ua_is_bot"]),
        "headless": bool(row["ua_headless"]),
        "origin": bool(row["has_origin"]),
        "webdriver": {-1: None, 0: False, 1: True}.get(int(row["env_webdriver"])),
    }


def run_one(ctx: Context, params: VisitorParams) -> dict:
    extra = {"vid": params.vid, "timeline_limit": TIMELINE_LIMIT + 1}
    row = ctx.storage.query(ONE_SQL, ctx.bind_coverage(**extra), what="trust visitor").first()
    if row is None:
        raise NotFound(f"no events of visitor {params.vid!r} in the range")
    timeline = ctx.storage.dicts(TIMELINE_SQL, ctx.bind(**extra), what="trust visitor timeline")
    weights, threshold = ctx.trust.weights, ctx.trust.threshold
    signals = {
        code: {"fired": code in row["reasons"], "value": row[column], "weight": weights[code]}
        for code, column in SIGNAL_VALUES.items()
    }
    return {
        **shape(row, ctx.trust),
        "excluded": int(row["score"]) <= threshold,
        "threshold": threshold,
        "signals": signals,
        "timeline": [timeline_json(r) for r in timeline[:TIMELINE_LIMIT]],
        "timeline_truncated": len(timeline) > TIMELINE_LIMIT,
    }
