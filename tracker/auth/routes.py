"""`GET /api/admin/audit` (admin): the audit log, newest first.

Query: `since` (ISO date or datetime, UTC; default 24 hours ago), `token` (id or name),
`limit` (1-10000, default 100). Pending entries are written first, so an admin sees calls
made a moment ago.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth import audit
from tracker.auth.roles import ADMIN, authorize
from tracker.errors import BadRequest
from tracker.ingest.routes import json_response

MAX_LIMIT = 10_000


def parse_since(raw: str | None) -> datetime:
    if not raw:
        return datetime.now(UTC) - timedelta(days=1)
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("since must be an ISO date or datetime, e.g. 2026-03-01 or 2026-03-01T12:00:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_limit(raw: str | None) -> int:
    try:
        limit = int(raw or 100)
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


async def audit_log(request: Request) -> Response:
    authorize(request, ADMIN)
    query = request.query_params
    since, limit = parse_since(query.get("since")), parse_limit(query.get("limit"))
    token = (query.get("token") or "").strip() or None
    if token and len(token) > 200:
        raise BadRequest("token must be a token id or name")
    log = request.app.state.audit

    def read() -> list[dict]:
        log.flush()
        return audit.query(request.app.state.storage, since=since, token=token, limit=limit)

    return json_response({"rows": await run_in_threadpool(read)})


routes = [Route("/api/admin/audit", audit_log, methods=["GET"])]
