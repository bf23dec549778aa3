"""API tokens: `trk_<id>_<secret>`, stored as id + sha256(secret), compared in constant time.

The id is public (it names the token in lists and the audit log); only the hash of the secret
is stored, so a leaked database does not leak working tokens. Verification results are cached
for a few seconds so a dashboard's burst of requests costs one lookup; revocation through this
process clears the cache at once.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from tracker.errors import BadRequest, NotFound
from tracker.storage.client import Storage

ROLES = ("marketer", "fraud", "admin", "ingest")
TOKEN_RE = re.compile(r"^trk_([a-f0-9]{12})_([A-Za-z0-9_-]{20,64})$")
NAME_RE = re.compile(r"^[\w .@:-]{1,64}$")
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str
    sites: tuple[str, ...]  # empty: every site

    def may_see_site(self, site: str) -> bool:
        return not self.sites or site in self.sites

    def covers(self, sites) -> bool:
        """Whether every site of a token limited to `sites` (empty: every site) is one this
        principal may see: a scoped principal never covers an unscoped token."""
        return not self.sites or (bool(sites) and all(s in self.sites for s in sites))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Tokens:
    def __init__(self, storage: Storage):
        self.storage = storage
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def create(self, *, role: str, name: str, sites: list[str] | None = None) -> tuple[str, Principal]:
        if role not in ROLES:
            raise BadRequest(f"role must be one of {', '.join(ROLES)}")
        if role == "ingest" and not sites:
            # A backend's token confirms one shop's orders: never every site's.
            raise BadRequest("an ingest token must be limited to its site(s): pass --site SITE")
        if not NAME_RE.match(name or ""):
            raise BadRequest("name must be 1-64 letters, digits, spaces or . @ : - _")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        self.storage.command(
            "INSERT INTO tokens (token_id, name, role, sites, secret_hash, created_at, revoked_at, updated_at) VALUES "
            "({id:String}, {name:String}, {role:String}, {sites:Array(String)}, {hash:String}, {now:DateTime64(3)}, NULL, "
            "{now:DateTime64(3)})",
            {"id": token_id, "name": name, "role": role, "sites": list(sites or []), "hash": _hash(secret), "now": now},
            what="creating a token",
        )
        return f"trk_{token_id}_{secret}", Principal(token_id, name, role, tuple(sites or ()))

    def verify(self, token: str | None) -> Principal | None:
        if not token:
            return None
        match = TOKEN_RE.match(token.strip())
        if not match:
            return None
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached and now - cached[0] < CACHE_SECONDS:
            return cached[1]
        token_id, secret = match.groups()
        row = self.storage.query(
            "SELECT name, role, sites, secret_hash FROM tokens FINAL WHERE token_id = {id:String} AND revoked_at IS NULL",
            {"id": token_id},
            what="checking a token",
        ).first()
        principal = None
        if row and hmac.compare_digest(row["secret_hash"], _hash(secret)):
            principal = Principal(token_id, row["name"], row["role"], tuple(row["sites"]))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (now, principal)
        return principal

    def list(self) -> list[dict]:
        """Every token (never a secret) with its last use, from `token_usage` (written by the
        audit log at most once a minute per token, so it may lag by up to a minute)."""
        return self.storage.dicts(
            "SELECT t.token_id AS token_id, t.name AS name, t.role AS role, t.sites AS sites, t.created_at AS created_at, "
            "t.revoked_at AS revoked_at, u.last_used AS last_used "
            "FROM (SELECT * FROM tokens FINAL) AS t "
            "LEFT JOIN (SELECT token_id, max(last_used) AS last_used FROM token_usage GROUP BY token_id) AS u ON u.token_id = t.token_id "
            "ORDER BY t.created_at",
            what="listing tokens",
            settings={"join_use_nulls": 1},
        )

    def revoke(self, token_id_or_name: str, *, by: Principal | None = None) -> list[dict]:
        """Revoke the active tokens with this id or name; returns them (id, name, role, sites).
        `by`: only tokens that principal covers (a site-scoped admin never revokes a token of
        another site, nor learns that one exists: the same 404 as for no token at all)."""
        rows = self.storage.dicts(
            "SELECT token_id, name, role, sites, secret_hash, created_at FROM tokens FINAL "
            "WHERE (token_id = {x:String} OR name = {x:String}) AND revoked_at IS NULL",
            {"x": token_id_or_name},
            what="finding a token",
        )
        if by is not None:
            rows = [r for r in rows if by.covers(list(r["sites"]))]
        if not rows:
            raise NotFound(f"no active token with id or name {token_id_or_name!r}")
        now = datetime.now(UTC)
        for row in rows:
            self.storage.command(
                "INSERT INTO tokens (token_id, name, role, sites, secret_hash, created_at, revoked_at, updated_at) VALUES "
                "({id:String}, {name:String}, {role:String}, {sites:Array(String)}, {hash:String}, {created:DateTime64(3)}, "
                "{now:DateTime64(3)}, {now:DateTime64(3)})",
                {**{k: row[k] for k in ("name", "role", "sites")}, "id": row["token_id"], "hash": row["secret_hash"],
                 "created": row["created_at"], "now": now},
                what="revoking a token",
            )
        with self._lock:
            self._cache.clear()
        return [{k: row[k] for k in ("token_id", "name", "role")} | {"sites": list(row["sites"])} for row in rows]

    def count_admins(self) -> int:
        sql = "SELECT count() FROM tokens FINAL WHERE role = 'admin' AND revoked_at IS NULL"
        return int(self.storage.scalar(sql, what="counting tokens") or 0)
