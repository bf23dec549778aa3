"""What the route table cannot say about the routes that are not reports: their query
parameters, request bodies and answers, keyed by (METHOD, path as in the route table).

Reports and trust listings need nothing here: their parameters come from their `Params`
dataclasses and the scope (`tracker.reports.params`). A route missing from this table is
still in the document (found in the route table, summarised by its handler's docstring,
answering "a JSON object"); an entry here makes it precise. Limits are the modules' own
constants, so the document moves with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracker.ingest import schema as events
from tracker.orders import schema as orders
from tracker.sites import MAX_REVENUE_CEILING
from tracker.vocabulary import EVENT_TYPES, SITE_PATTERN

STRING: dict = {"type": "string"}
SITE: dict = {"type": "string", "pattern": SITE_PATTERN, "example": "demo"}
OBJECT: dict = {"type": "object"}
ROWS: dict = {"type": "object", "required": ["rows"], "properties": {"rows": {"type": "array", "items": OBJECT}}}
ACCEPTED: dict = {
    "type": "object", "required": ["accepted"],
    "properties": {"accepted": {"type": "integer", "minimum": 0},
                   "rejected": {"type": "array", "items": {"type": "object", "properties": {"index": {"type": "integer"}, "error": STRING}}}},
}


@dataclass(frozen=True)
class Operation:
    """One documented operation: `query` is a list of OpenAPI parameter objects (without `in`),
    `body` the JSON schema of the request body (`body_types` its media types), `answer` the
    schema of the success answer with status `status`."""

    summary: str
    query: tuple[dict, ...] = ()
    body: dict | None = None
    body_types: tuple[str, ...] = ("application/json",)
    answer: dict = field(default_factory=lambda: OBJECT)
    status: int = 200
    description: str = ""


def q(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {"name": name, "description": description, "schema": schema, "required": required}


EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["type", "id", "url"],
    "properties": {
        "type": {"type": "string", "enum": list(EVENT_TYPES)},
        "id": {"type": "string", "maxLength": events.MAX_ID_LEN, "description": "uuid from the client; the dedupe key"},
        "url": {"type": "string", "maxLength": events.MAX_URL_LEN, "description": "absolute page URL"},
        "ts": {"type": "integer", "description": "client epoch milliseconds"},
        "ref": STRING, "sid": STRING, "vid": STRING, "name": STRING,
        "promo": {"type": "object", "properties": {"id": STRING, "name": STRING, "creative": STRING, "slot": STRING,
                                                    "variant": {"type": "string", "enum": ["exposed", "holdout"]}}},
        "order": {"type": "object", "properties": {"id": STRING, "revenue": {"type": "number"}, "currency": STRING, "coupon": STRING}},
        "props": {"type": "object", "additionalProperties": STRING},
        "env": OBJECT,
    },
}
COLLECT: dict = {"type": "object", "required": ["site", "events"],
                 "properties": {"site": SITE, "events": {"type": "array", "maxItems": events.MAX_EVENTS, "items": EVENT}}}
ORDER: dict = {
    "type": "object", "required": ["id", "revenue", "currency", "status"], "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "minLength": 1, "maxLength": orders.MAX_ORDER_ID_LEN, "description": "the order id the page's purchase sent"},
        "revenue": {"oneOf": [{"type": "number", "minimum": 0, "maximum": float(orders.MAX_ORDER_REVENUE)},
                              {"type": "string", "pattern": r"^\d{1,11}(\.\d{1,4})?$"}],
                    "description": "a number, or an exact decimal string"},
        "currency": {"type": "string", "pattern": "^[A-Za-z]{3}$"},
        "coupon": {"type": "string", "maxLength": orders.MAX_COUPON_LEN},
        "status": {"type": "string", "enum": list(orders.STATUSES)},
        "ts": {"oneOf": [{"type": "number"}, {"type": "string"}], "description": "when the order was placed: epoch ms or ISO 8601"},
    },
}
SINCE = q("since", "ISO date or datetime, UTC (default: 24 hours ago)", STRING)
LIMIT = q("limit", "most rows to return", {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 100})

OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/api/collect"): Operation(
        "Send events from a page (the snippet does this)", body=COLLECT, body_types=("application/json", "text/plain"),
        answer=ACCEPTED, status=202,
        description=f"At most {events.MAX_BODY_BYTES // 1024} KiB and {events.MAX_EVENTS} events. An unknown site or an "
        "unregistered Origin is `202 {\"accepted\": 0}` (no oracle). Sets the `_tid` cookie."),
    ("POST", "/api/opt-out"): Operation("Opt this browser out: sets the opt-out cookie; nothing is stored from it afterwards",
                                        status=200),
    ("POST", "/api/forget-me"): Operation("Erase this browser's visitor (from its cookie) and opt it out", status=200),
    ("GET", "/api/assign"): Operation(
        "The holdout group of this browser's visitor for a promotion",
        query=(q("site", "site id", SITE, True), q("promo", "promotion id", STRING, True)),
        answer={"type": "object", "properties": {"variant": {"type": "string", "enum": ["exposed", "holdout"]}}}),
    ("POST", "/api/orders"): Operation(
        "Confirm, correct or refund orders from the shop's backend (role ingest)",
        body={"type": "object", "required": ["site", "orders"],
              "properties": {"site": SITE, "orders": {"type": "array", "maxItems": orders.MAX_ORDERS, "items": ORDER}}},
        answer=ACCEPTED, status=202,
        description=f"At most {orders.MAX_BODY_BYTES // 1024} KiB and {orders.MAX_ORDERS} orders. 202 once the orders are on disk; "
        "idempotent by (site, id), the latest confirmation wins; 503 + Retry-After when storage is down. docs/orders.md."),
    ("GET", "/api/admin/sites"): Operation("List the sites and their allowed origins", answer=ROWS),
    ("POST", "/api/admin/sites"): Operation(
        "Register a site, or add origins to it",
        body={"type": "object", "required": ["site"],
              "properties": {"site": SITE, "origins": {"type": "array", "items": STRING}, "replace": {"type": "boolean"}}},
        answer={"type": "object", "required": ["site", "origins"], "properties": {"site": STRING, "origins": {"type": "array"}}},
        status=201),
    ("PATCH", "/api/admin/sites/{site}"): Operation(
        "Change a site's settings",
        body={"type": "object", "minProperties": 1, "additionalProperties": False,
              "properties": {"revenue_ceiling": {"type": "number", "minimum": 0, "maximum": MAX_REVENUE_CEILING,
                                                 "description": "most revenue a purchase the backend has not confirmed counts for; "
                                                                "0: automatic (revenue_ceiling_factor x the site's median order)"}}},
        answer={"type": "object", "required": ["site", "origins", "revenue_ceiling"],
                "properties": {"site": STRING, "origins": {"type": "array"},
                               "revenue_ceiling": {"type": ["number", "null"], "description": "null: automatic"}}},
        description="404 for a site that does not exist (or that a site-scoped admin does not administer). docs/orders.md."),
    ("GET", "/api/admin/tokens"): Operation("List tokens (never their secrets)", answer=ROWS),
    ("POST", "/api/admin/tokens"): Operation(
        "Create a token; its secret is in this answer only",
        body={"type": "object", "required": ["role", "name"],
              "properties": {"role": {"type": "string", "enum": ["marketer", "fraud", "admin", "ingest"]}, "name": STRING,
                             "sites": {"type": "array", "items": SITE}}},
        answer={"type": "object", "required": ["token", "token_id"], "properties": {"token": STRING, "token_id": STRING}},
        status=201),
    ("DELETE", "/api/admin/tokens/{token}"): Operation("Revoke tokens by id or name",
                                                       answer={"type": "object", "properties": {"revoked": {}}}),
    ("POST", "/api/admin/import"): Operation(
        "Trusted backfill: JSON lines, one event a line with vid and ts",
        query=(q("site", "site id (created if absent)", SITE, True), q("first_line", "line number of the body's first line", {"type": "integer"})),
        body=STRING, body_types=("application/x-ndjson", "text/plain"),
        answer={"type": "object", "properties": {"accepted": {"type": "integer"}, "errors": {"type": "array"}}}),
    ("POST", "/api/admin/seed"): Operation(
        "Write synthetic shop traffic",
        query=(q("site", "site id (default demo)", SITE), q("visitors", "visitors", {"type": "integer", "minimum": 0}),
               q("days", "days of traffic", {"type": "integer", "minimum": 1}), q("seed", "random seed", {"type": "integer", "minimum": 0})),
        status=201),
    ("GET", "/api/admin/audit"): Operation(
        "The audit log of API calls, newest first",
        query=(SINCE, q("token", "only calls made with this token id or name", STRING), LIMIT), answer=ROWS),
    ("GET", "/api/admin/promos"): Operation("A site's promotions", query=(q("site", "site id", SITE, True),), answer=ROWS),
    ("POST", "/api/admin/promos"): Operation(
        "Create or update a promotion",
        body={"type": "object", "required": ["site", "promo_id"],
              "properties": {"site": SITE, "promo_id": STRING, "name": STRING, "holdout_pct": {"type": "number", "minimum": 0, "maximum": 100},
                             "coupons": {"type": "array", "items": STRING}, "starts_at": STRING, "ends_at": STRING}}),
    ("DELETE", "/api/admin/promos"): Operation(
        "Remove a promotion from the registry (its events stay)",
        query=(q("site", "site id", SITE, True), q("promo", "promotion id", STRING, True))),
    ("GET", "/api/privacy/visitors/{vid}"): Operation(
        "Every stored record of one visitor", query=(q("site", "only this site's records", SITE),)),
    ("DELETE", "/api/privacy/visitors/{vid}"): Operation(
        "Erase one visitor everywhere", query=(q("site", "only this site's records", SITE),),
        answer={"type": "object", "properties": {"total": {"type": "integer"}, "erased": OBJECT}}),
    ("GET", "/api/privacy/erasures"): Operation("The log of erasures", query=(LIMIT,), answer=ROWS),
}
