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
from datetime import datetime
from typing import Any

from tracker.errors import BadRequest, NotFound
from tracker.reports._params import Common, int_param, parse_common
from tracker.reports.trust.score import CODES, VISITOR_SCORES, current, evidence
from tracker.reports.trust.signals import bind_coverage

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
MAX_OFFSET = 10_000_000
TIMELINE_LIMIT = 1000
MAX_VID_LEN = 200


def _iso(value: Any) -> Any:
    if not isinstance(value, datetime):
        return value
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"  # stored in UTC


@dataclass(frozen=True)
class Params:
    common: Common
    max_score: int
    limit: int
    offset: int
    reason: str

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Params:
        common = parse_common(query)
        reason = query.get("reason") or ""
        if reason and reason not in CODES:
            raise BadRequest(f"reason must be one of {', '.join(CODES)}")
        return cls(
            common=common,
            max_score=int_param(query, "max_score", current().threshold, 0, 100),
            limit=int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
            offset=int_param(query, "offset", 0, 0, MAX_OFFSET),
            reason=reason,
        )

    def bind(self) -> dict:
        return {**self.common.bind(), "max_score": self.max_score, "limit": self.limit, "offset": self.offset, "reason": self.reason}


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


def visitor_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "vid": row["vid"],
        "score": int(row["score"]),
        "reasons": list(row["reasons"]),
        "evidence": evidence(row),
        "events": int(row["events"]),
        "first_seen": _iso(row["first_seen"]),
        "last_seen": _iso(row["last_seen"]),
    }


def run(storage, params: Params) -> dict:
    bind = bind_coverage(storage, params.bind())
    rows = storage.dicts(LIST_SQL, bind, what="trust visitors")
    if rows:
        total = int(rows[0]["total"])
    else:  # a page past the end still says how many there are
        total = int(storage.scalar(COUNT_SQL, bind, what="trust visitors") or 0)
    return {"rows": [visitor_json(r) for r in rows], "total": total}


# --- one visitor ---------------------------------------------------------------------------

@dataclass(frozen=True)
class VisitorParams:
    common: Common
    vid: str

    @classmethod
    def from_query(cls, query: Mapping[str, str], vid: str) -> VisitorParams:
        if not vid or len(vid) > MAX_VID_LEN:
            raise BadRequest(f"visitor id must be 1 to {MAX_VID_LEN} characters")
        return cls(common=parse_common(query), vid=vid)

    def bind(self) -> dict:
        return {**self.common.bind(), "vid": self.vid, "timeline_limit": TIMELINE_LIMIT + 1}


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
}


def timeline_json(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **{k: _iso(v) for k, v in row.items() if k not in ("vid_signed", "id_forged", "ua_is_bot", "ua_headless", "has_origin", "env_webdriver")},
        "signed": bool(row["vid_signed"]),
        "forged": bool(row["id_forged"]),
        "bot": bool(row["ua_is_bot"]),
        "headless": bool(row["ua_headless"]),
        "origin": bool(row["has_origin"]),
        "webdriver": {-1: None, 0: False, 1: True}.get(int(row["env_webdriver"])),
    }


def run_one(storage, params: VisitorParams) -> dict:
    row = storage.query(ONE_SQL, bind_coverage(storage, params.bind()), what="trust visitor").first()
    if row is None:
        raise NotFound(f"no events of visitor {params.vid!r} in the range")
    timeline = storage.dicts(TIMELINE_SQL, params.bind(), what="trust visitor timeline")
    weights = current().weights
    signals = {
        code: {"fired": code in row["reasons"], "value": row[column], "weight": weights[code]}
        for code, column in SIGNAL_VALUES.items()
    }
    return {
        **visitor_json(row),
        "excluded": int(row["score"]) <= current().threshold,
        "threshold": current().threshold,
        "signals": signals,
        "timeline": [timeline_json(r) for r in timeline[:TIMELINE_LIMIT]],
        "timeline_truncated": len(timeline) > TIMELINE_LIMIT,
    }
