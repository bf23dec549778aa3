"""Erase: remove one visitor everywhere, and write down that it was done.

Order matters. 1) With the flusher paused, the open spool segment is sealed and the
visitor's rows are cut out of every sealed segment, so nothing of theirs can be flushed after
step 2. 2) A ClickHouse lightweight delete (`DELETE FROM t WHERE vid = {vid:String}`) runs on
every table with a `vid` column (the `_local` tables of every node in cluster mode); the
rows disappear from reads at once and from disk at the next merge. A table whose engine
refuses lightweight deletes (e.g. one with projections) gets a synchronous mutation instead.
3) A count afterwards must be zero, else the request fails loudly. 4) One row goes to the
`erasures` ledger: when, who, a salted hash of the vid (never the vid), counts per table.

5) A second pass runs `SWEEP_AFTER_SECONDS` later: a background job that read the visitor's
events just before step 2 (the trust engine's per-day materialisation) may write derived rows
just after it; the sweep deletes those. Only the in-memory timer knows the vid meanwhile.

`AFTER_ERASE` lets a part of tracker that caches visitor data in memory drop it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tracker.errors import StorageError, TrackerError
from tracker.privacy import pending
from tracker.privacy.tables import VisitorTable, quote, visitor_tables

log = logging.getLogger(__name__)

SALT_FILE = "privacy_salt"
SWEEP_AFTER_SECONDS = 60.0
AFTER_ERASE: list[Callable[[str, str | None], None]] = []
_one_at_a_time = threading.Lock()


def ledger_salt(settings) -> bytes:
    """The secret that salts ledger hashes: a setting, else a file in the data dir."""
    if settings.privacy_salt:
        return settings.privacy_salt.encode()
    path = Path(settings.data_dir).resolve() / SALT_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        salt = secrets.token_bytes(32)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(salt.hex())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return salt


def vid_hash(settings, vid: str) -> str:
    return hmac.new(ledger_salt(settings), vid.encode(), hashlib.sha256).hexdigest()


def erase(runtime, vid: str, site: str | None = None, *, by: str) -> dict:
    """Erase the visitor; returns {"erased": {table: rows}, "total": n}."""
    storage, spool, flusher = runtime.storage, runtime.spool, runtime.flusher
    params = {"vid": vid, "site": site or ""}
    with _one_at_a_time:
        with flusher.paused():
            pending.seal_open_segment(spool)
            counts = {"spool": pending.remove(spool, vid, site)}
        for table in visitor_tables(storage):
            counts[table.name] = _delete(storage, table, site, params)
        _record(runtime, vid, site, by, counts)
    _sweep_later(runtime.storage, vid, site)
    for hook in AFTER_ERASE:
        try:
            hook(vid, site)
        except Exception:  # a cache that fails to drop must not undo the erasure
            log.exception("after-erase hook failed")
    return {"vid": vid, "site": site, "erased": counts, "total": sum(counts.values())}


def sweep(storage, vid: str, site: str | None = None) -> dict[str, int]:
    """Delete what was written about the visitor since the erasure (derived rows only can
    appear: the spool no longer holds any of theirs). Returns rows deleted per table."""
    params = {"vid": vid, "site": site or ""}
    with _one_at_a_time:
        found = {table.name: _delete(storage, table, site, params) for table in visitor_tables(storage)}
    late = {name: n for name, n in found.items() if n}
    if late:
        log.warning("erasure sweep removed rows written after the erasure: %s", late)
    return late


def _sweep_later(storage, vid: str, site: str | None) -> None:
    def run() -> None:
        try:
            sweep(storage, vid, site)
        except Exception:  # storage closed or away: the TTLs remain the backstop
            log.warning("erasure sweep could not run", exc_info=True)

    timer = threading.Timer(SWEEP_AFTER_SECONDS, run)
    timer.daemon = True
    timer.start()


def _count(storage, table: VisitorTable, site, params) -> int:
    sql = f"SELECT count() FROM {quote(table.read_from)} WHERE {table.where(site)}"
    return int(storage.scalar(sql, params, what=f"counting a visitor in {table.name}") or 0)


def _delete(storage, table: VisitorTable, site: str | None, params: dict) -> int:
    found = _count(storage, table, site, params)
    if not found:
        return 0
    where, target = table.where(site), quote(table.write_to) + storage.on_cluster
    try:
        storage.command(f"DELETE FROM {target} WHERE {where}", params, what=f"erasing a visitor from {table.name}", every_node=True)
    except TrackerError:
        log.warning("lightweight delete refused on %s; using a synchronous mutation", table.name)
        storage.command(
            f"ALTER TABLE {target} DELETE WHERE {where}",
            params,
            what=f"erasing a visitor from {table.name}",
            settings={"mutations_sync": 2},
            every_node=True,
        )
    left = _count(storage, table, site, params)
    if left:
        raise StorageError(f"erasure from {table.name} is incomplete ({left} rows left); retry the request")
    return found


def _record(runtime, vid: str, site: str | None, by: str, counts: dict[str, int]) -> None:
    runtime.storage.insert_rows(
        "erasures",
        ("at", "by_token", "vid_hash", "site", "counts"),
        [(datetime.now(UTC), by, vid_hash(runtime.settings, vid), site or "", counts)],
        what="writing the erasure ledger",
    )


def ledger(storage, *, limit: int = 100, sites: tuple[str, ...] = ()) -> list[dict]:
    """Newest first; `sites` (a site-scoped admin's): only erasures from those sites."""
    where = "WHERE has({sites:Array(String)}, site) " if sites else ""
    return storage.dicts(
        f"SELECT at, by_token, vid_hash, site, counts FROM erasures {where}ORDER BY at DESC LIMIT {{limit:UInt32}}",
        {"limit": limit, "sites": list(sites)},
        what="reading the erasure ledger",
    )
