"""The audit log: who called which API, when, for which site, with what outcome.

A pure-ASGI middleware notes one entry per request to a protected API (or any request that
presented a valid token) once the response has started: token id and name, role, method,
the route's path *template* (`/api/reports/{name}`, never the raw path or query values, which
may carry visitor ids), the site the handler authorized, status and duration, and for an
admin action that succeeded a `detail` saying what it did (the token made or revoked, the
site registered, the rows an erasure removed with the ledger's salted visitor hash). Visitor-facing
endpoints (`/api/collect`, `/api/assign`, `/api/opt-out`, `/snippet.js`, health probes) are
never logged: they carry no token, and logging them would be a second copy of the traffic.

Entries go to an in-memory queue (bounded: when ClickHouse is away for long the oldest are
dropped and counted) and a background thread inserts them in batches, so no request ever
waits on an insert. The same thread records each token's last use in `token_usage`, at most
once a minute per token, so the `tokens` table is never rewritten by traffic.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracker.errors import TrackerError
from tracker.storage.client import Storage

log = logging.getLogger(__name__)

MAX_PENDING = 50_000
FLUSH_SECONDS = 1.0
USAGE_EVERY_SECONDS = 60.0
# Paths whose requests are never audited: anonymous visitor traffic and probes.
UNAUDITED_PREFIXES = (
    "/api/collect", "/api/assign", "/api/opt-out", "/snippet.js", "/healthz", "/readyz", "/demo", "/static", "/dashboard/static",
)
COLUMNS = ("at", "token_id", "token_name", "role", "method", "route", "site", "status", "duration_ms", "detail")
MAX_DETAIL = 500


@dataclass(frozen=True, slots=True)
class Entry:
    at: datetime
    token_id: str
    token_name: str
    role: str
    method: str
    route: str
    site: str
    status: int
    duration_ms: float
    detail: str = ""  # what an admin action did (`tracker.auth.roles.note_action`); never a visitor id

    def row(self) -> tuple:
        return tuple(getattr(self, c) for c in COLUMNS)


class AuditLog:
    """Batches entries into ClickHouse from one background thread."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self._pending: deque[Entry] = deque(maxlen=MAX_PENDING)
        self._lock = threading.Lock()  # one writer at a time (thread or an explicit flush)
        self._usage_written: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0
        self.written = 0

    def note(self, entry: Entry) -> None:
        """Called on the event loop: O(1), never touches storage."""
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(entry)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="audit-log", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
            except TrackerError as exc:  # storage away: keep the entries, try again later
                log.warning("audit log not written yet: %s", exc.message)
            except Exception:  # never let the thread die
                log.exception("audit log flush failed")

    def flush(self) -> int:
        """Write what is pending now; returns the number of entries written."""
        with self._lock:
            batch = []
            while self._pending:
                batch.append(self._pending.popleft())
            if not batch:
                return 0
            try:
                self.storage.insert_rows("audit_log", COLUMNS, [e.row() for e in batch], what="writing the audit log")
            except TrackerError:
                self._pending.extendleft(reversed(batch))  # keep order; maxlen drops the oldest
                raise
            self.written += len(batch)
            self._record_usage(batch)
            return len(batch)

    def _record_usage(self, batch: list[Entry]) -> None:
        latest: dict[str, datetime] = {}
        for entry in batch:
            if entry.token_id:  # the token verified (even if its role was then refused)
                latest[entry.token_id] = max(latest.get(entry.token_id, entry.at), entry.at)
        now = time.monotonic()
        due = [(t, at) for t, at in latest.items() if now - self._usage_written.get(t, -USAGE_EVERY_SECONDS) >= USAGE_EVERY_SECONDS]
        if not due:
            return
        self.storage.insert_rows("token_usage", ("token_id", "last_used"), due, what="recording token use")
        for token_id, _ in due:
            self._usage_written[token_id] = now
        if len(self._usage_written) > 100_000:
            self._usage_written.clear()


def _template(scope: Scope) -> str:
    """The route's path template. Requests the auth gate turned away never reached the
    router, so they are matched here (full match first, else a method mismatch)."""
    route = scope.get("route")
    if route is None and "app" in scope:
        from starlette.routing import Match

        partial = None
        for candidate in getattr(scope["app"], "routes", ()):
            match, _ = candidate.matches(scope)
            if match is Match.FULL:
                route = candidate
                break
            if match is Match.PARTIAL and partial is None:
                partial = candidate
        route = route or partial
    return (getattr(route, "path", None) or "(no route)")[:200]


def _audited(path: str) -> bool:
    return path.startswith("/api/") and not path.startswith(UNAUDITED_PREFIXES)


class AuditMiddleware:
    """Notes one `Entry` per audited request after the handler ran (pure ASGI: no body copy)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNAUDITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self._note(scope, status, started)

    @staticmethod
    def _note(scope: Scope, status: int, started: float) -> None:
        state = scope.get("state") or {}
        principal = state.get("principal")
        if principal is None and not _audited(scope["path"]):
            return  # dashboard pages and assets without a login: not an API call
        runtime = getattr(scope["app"].state, "runtime", None) if "app" in scope else None
        audit = runtime.audit if runtime is not None else None
        if audit is None:
            return
        template = _template(scope)
        audit.note(
            Entry(
                at=datetime.now(UTC),
                token_id=getattr(principal, "token_id", ""),
                token_name=getattr(principal, "name", ""),
                role=getattr(principal, "role", ""),
                method=scope.get("method", ""),
                route=template,
                site=str(state.get("site") or "")[:100],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                detail=str(state.get("audit_detail") or "")[:MAX_DETAIL] if status < 400 else "",
            )
        )


def query(storage: Storage, *, since: datetime, token: str | None, limit: int, sites: tuple[str, ...] = (),
          own_token: str = "") -> list[dict]:
    """Newest first. `token` matches a token id or a token name. `sites` (a site-scoped
    admin's): only entries about those sites, and `own_token`'s own calls that name no site
    (not its calls that asked about a site outside its scope: the name would be echoed)."""
    where = "at >= {since:DateTime64(3)}"
    params: dict = {"since": since, "limit": limit}
    if sites:
        # An entry about several sites names them comma-separated: all of them must be in scope.
        where += (" AND ((site = '' AND token_id = {own:String})"
                  " OR (site != '' AND hasAll({sites:Array(String)}, splitByChar(',', site))))")
        params.update(sites=list(sites), own=own_token)
    if token:
        where += " AND (token_id = {token:String} OR token_name = {token:String})"
        params["token"] = token
    return storage.dicts(
        f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE {where} ORDER BY at DESC LIMIT {{limit:UInt32}}",
        params,
        what="reading the audit log",
    )
