"""`GET /api/admin/audit` (admin): the audit log, newest first.

Query: `since` (ISO date or datetime, UTC; default 24 hours ago), `token` (id or name),
`limit` (1-10000, default 100). Pending entries are written first, so an admin sees calls
made a moment ago. A site-scoped admin sees the entries about its sites and its own calls only.
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
from tracker.http import int_param, json_response, runtime_of

MAX_LIMIT = 10_000


def parse_since(raw: str | None) -> datetime:
    if not raw:
        return datetime.now(UTC) - timedelta(days=1)
    try:
        value = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest("since must be an ISO date or datetime, e.g. 2026-03-01 or 2026-03-01T12:00:00Z") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def audit_log(request: Request) -> Response:
    principal = authorize(request, ADMIN)
    query = request.query_params
    since, limit = parse_since(query.get("since")), int_param(query, "limit", 100, 1, MAX_LIMIT)
    token = (query.get("token") or "").strip() or None
    if token and len(token) > 200:
        raise BadRequest("token must be a token id or name")
    runtime = runtime_of(request)

    def read() -> list[dict]:
        runtime.audit.flush()
        return audit.query(runtime.storage, since=since, token=token, limit=limit, sites=principal.sites, own_token=principal.token_id)

    return json_response({"rows": await run_in_threadpool(read)})


routes = [Route("/api/admin/audit", audit_log, methods=["GET"])]
