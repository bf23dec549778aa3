"""Dashboard sessions: a token typed once on the login page becomes a signed session cookie.

The `Sessions` of a process is built from Settings in `Runtime.open` (`runtime.sessions`); the
API accepts its cookie in place of a bearer token (`principal_from_session`, used by
`tracker.auth.roles.authenticate`).

Why a cookie and not the token in the browser: the token is a long-lived secret; the page's
JavaScript never sees it (the cookie is `HttpOnly`), and a session dies by itself after
`IDLE_SECONDS` without a page load (and after `MAX_AGE_SECONDS` in any case).

Cookie value: `<payload>.<kid>.<mac>` — payload is base64url JSON `{s: session id, t: token id,
c: CSRF token, i: issued, a: last active}`, mac is HMAC-SHA256 over the payload with a key
derived from the `_tid` cookie keys (`TRACKER_COOKIE_SECRET` or the data dir's secrets file),
so several servers sharing that secret share sessions and rotating it rotates both. The cookie
holds the token's id, never its secret; every request looks the id up again (cached a few
seconds), so revoking the token ends its sessions. Logout remembers the session id as ended
until it would have expired anyway (in this process's memory: a restart forgets it, but the
browser's cookie was cleared and the idle limit still applies).

CSRF: state-changing forms carry the session's CSRF token (synchronizer token); the login form,
which has no session yet, uses a double-submit cookie. API calls made with the cookie are
accepted for GET/HEAD; any other method must send the CSRF token in `X-CSRF-Token`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

import orjson
from starlette.requests import Request

from tracker.auth.tokens import Principal
from tracker.http import runtime_of

COOKIE = "trk_session"
LOGIN_CSRF_COOKIE = "trk_login_csrf"
CSRF_HEADER = "x-csrf-token"
IDLE_SECONDS = 8 * 3600
MAX_AGE_SECONDS = 7 * 24 * 3600
REFRESH_AFTER_SECONDS = 60  # re-sign the cookie (sliding idle expiry) at most once a minute
PRINCIPAL_CACHE_SECONDS = 5.0
SAFE_METHODS = frozenset({"GET", "HEAD"})
_KEY_LABEL = b"tracker dashboard session v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    sid: str
    token_id: str
    csrf: str
    issued: int
    active: int


class Sessions:
    """Signs and checks session cookies; `now` is injectable so expiry is testable."""

    def __init__(self, cookie_keys: list[bytes], storage, now=time.time):
        if not cookie_keys:
            raise ValueError("at least one key is needed")
        derived = [hmac.new(k, _KEY_LABEL, hashlib.sha256).digest() for k in cookie_keys]
        self._keys = {hashlib.sha256(k).hexdigest()[:6]: k for k in derived}
        self._current = hashlib.sha256(derived[0]).hexdigest()[:6]
        self._storage = storage
        self._now = now
        self._ended: dict[str, float] = {}
        self._principals: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    # --- cookie value -------------------------------------------------------------------------
    def _mac(self, kid: str, payload: str) -> str:
        return _b64(hmac.new(self._keys[kid], payload.encode("ascii"), hashlib.sha256).digest())

    def sign(self, session: Session) -> str:
        body = {"s": session.sid, "t": session.token_id, "c": session.csrf, "i": session.issued, "a": session.active}
        payload = _b64(orjson.dumps(body))
        return f"{payload}.{self._current}.{self._mac(self._current, payload)}"

    def new(self, token_id: str) -> Session:
        now = int(self._now())
        return Session(secrets.token_urlsafe(16), token_id, secrets.token_urlsafe(24), now, now)

    def read(self, value: str | None) -> Session | None:
        """The session if the cookie is authentic, not expired and not logged out."""
        if not value or len(value) > 1024 or value.count(".") != 2:
            return None
        payload, kid, mac = value.split(".")
        if kid not in self._keys or not hmac.compare_digest(mac, self._mac(kid, payload)):
            return None
        try:
            body = orjson.loads(_unb64(payload))
            session = Session(str(body["s"]), str(body["t"]), str(body["c"]), int(body["i"]), int(body["a"]))
        except (ValueError, KeyError, TypeError):
            return None
        now = self._now()
        if now - session.active > IDLE_SECONDS or now - session.issued > MAX_AGE_SECONDS or session.active > now + 60:
            return None
        if session.sid in self._ended:
            return None
        return session

    def touch(self, session: Session) -> Session | None:
        """A refreshed session to re-sign when the last refresh is old enough, else None."""
        now = int(self._now())
        if now - session.active < REFRESH_AFTER_SECONDS:
            return None
        return Session(session.sid, session.token_id, session.csrf, session.issued, now)

    def end(self, session: Session) -> None:
        now = self._now()
        with self._lock:
            self._ended = {sid: until for sid, until in self._ended.items() if until > now}
            self._ended[session.sid] = session.issued + MAX_AGE_SECONDS

    # --- who is behind a session --------------------------------------------------------------
    def principal(self, session: Session) -> Principal | None:
        """The token's current role and sites; None once the token is revoked."""
        now = time.monotonic()
        cached = self._principals.get(session.token_id)
        if cached and now - cached[0] < PRINCIPAL_CACHE_SECONDS:
            return cached[1]
        row = self._storage.query(
            "SELECT name, role, sites FROM tokens FINAL WHERE token_id = {id:String} AND revoked_at IS NULL",
            {"id": session.token_id},
            what="checking a dashboard session",
        ).first()
        principal = Principal(session.token_id, row["name"], row["role"], tuple(row["sites"])) if row else None
        with self._lock:
            if len(self._principals) > 10_000:
                self._principals.clear()
            self._principals[session.token_id] = (now, principal)
        return principal


def current(request: Request) -> tuple[Session, Principal] | None:
    """The request's dashboard session and its principal, if any (memoized on the request)."""
    if hasattr(request.state, "dashboard_session"):
        return request.state.dashboard_session
    found = None
    raw = request.cookies.get(COOKIE)
    if raw:
        sessions = runtime_of(request).sessions
        session = sessions.read(raw)
        principal = sessions.principal(session) if session else None
        if session and principal:
            found = (session, principal)
    request.state.dashboard_session = found
    return found


def principal_from_session(request: Request) -> Principal | None:
    """For `tracker.auth.roles.authorize`: the API accepts a dashboard session cookie in place
    of a bearer token — for GET/HEAD, or with the session's CSRF token in `X-CSRF-Token`."""
    found = current(request)
    if found is None:
        return None
    session, principal = found
    if request.method not in SAFE_METHODS and not hmac.compare_digest(request.headers.get(CSRF_HEADER, ""), session.csrf):
        return None
    return principal
