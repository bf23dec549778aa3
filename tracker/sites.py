"""The site registry: which site ids exist, which page origins may send to them, and their
per-site settings (`revenue_ceiling`: the manual sanity ceiling for revenue the shop's backend
has not confirmed, 0 = automatic; docs/orders.md).

Read on every collect request, so it is cached in memory and refreshed every few seconds (a
change made through this process is visible at once; one made by another server within
`REFRESH_SECONDS`). Collect reads the registry on the event loop, so a stale cache is
refreshed by a background thread while requests keep reading the last one: a storage engine
busy with reports must never stall the door (a synchronous refresh behind a 10M-event report
held every request for up to 30 s). Only a site missing from the cache waits for storage (once
per `REFRESH_SECONDS`), so a site registered by another process takes its first events.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from tracker.errors import BadRequest
from tracker.storage.client import Storage
from tracker.vocabulary import check_site_id

REFRESH_SECONDS = 5.0
MAX_REVENUE_CEILING = 10_000_000  # the most a browser purchase may claim (ingest schema): a higher ceiling caps nothing


@dataclass(frozen=True)
class Site:
    site: str
    origins: tuple[str, ...]
    created_at: str = ""
    revenue_ceiling: float = 0.0  # 0: automatic (revenue_ceiling_factor x the site's median order)


def check_revenue_ceiling(value: object) -> float:
    """A manual revenue ceiling from a request: a number from 0 (automatic) to
    MAX_REVENUE_CEILING. Raises BadRequest."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= MAX_REVENUE_CEILING:
        raise BadRequest(f"revenue_ceiling must be a number from 0 (automatic: the site's median order x the factor) "
                         f"to {MAX_REVENUE_CEILING:,}, got {value!r}")
    return round(float(value), 4)


def normalize_origin(raw: str) -> str:
    """`https://Shop.Example:443/` -> `https://shop.example`. Raises BadRequest."""
    try:
        parts = urlsplit(raw.strip())
        host = parts.hostname
        port = parts.port
    except ValueError:
        host = None
        port = None
    if parts.scheme not in ("http", "https") or not host or parts.path not in ("", "/") or parts.query:
        raise BadRequest(f"origin must look like https://shop.example, got {raw!r}")
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host.lower()}" + (f":{port}" if port and port != default else "")


def origin_key(header: str) -> str:
    """A browser's `Origin` header as registered origins are stored (lower case, no trailing
    slash): browsers send the normalised form already, so this only undoes case and a slash."""
    return header.lower().rstrip("/")


class Sites:
    def __init__(self, storage: Storage, snapshot: Path | None = None):
        self.storage = storage
        self.snapshot = snapshot
        self._lock = threading.Lock()
        self._cache: dict[str, Site] = {}
        self._loaded_at = 0.0
        self._refreshing = False  # a background refresh is in flight
        self._load_snapshot()

    def _load_snapshot(self) -> None:
        """The last known registry, so ingest keeps accepting while storage is down."""
        if self.snapshot is None or not self.snapshot.exists():
            return
        try:
            rows = orjson.loads(self.snapshot.read_bytes())
            self._cache = {r["site"]: Site(r["site"], tuple(r["origins"]), r.get("created_at", ""), float(r.get("revenue_ceiling") or 0))
                           for r in rows}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass

    def _save_snapshot(self) -> None:
        if self.snapshot is None:
            return
        tmp = self.snapshot.with_suffix(f".{os.getpid()}.tmp")  # processes of one data dir may save at once
        rows = [{"site": s.site, "origins": list(s.origins), "created_at": s.created_at, "revenue_ceiling": s.revenue_ceiling}
                for s in self._cache.values()]
        tmp.write_bytes(orjson.dumps(rows))
        os.replace(tmp, self.snapshot)

    def _refresh(self) -> None:
        rows = self.storage.query(
            "SELECT site, origins, toString(created_at), toFloat64(revenue_ceiling) FROM sites FINAL WHERE deleted = 0",
            what="reading sites",
        ).rows
        fresh = {r[0]: Site(r[0], tuple(r[1]), r[2], float(r[3])) for r in rows}
        with self._lock:
            changed = fresh != self._cache
            self._cache = fresh
            self._loaded_at = time.monotonic()
            if changed:
                self._save_snapshot()

    def _fresh(self, site: str | None = None) -> dict[str, Site]:
        if time.monotonic() - self._loaded_at > REFRESH_SECONDS:
            if not self._cache or (site is not None and site not in self._cache):
                # nothing to serve from yet, or a site registered since (by another process):
                # its first events must not be dropped as an unknown site's
                self._refresh_quietly()
            else:
                with self._lock:
                    start, self._refreshing = not self._refreshing, True
                if start:
                    threading.Thread(target=self._refresh_quietly, name="sites-refresh", daemon=True).start()
        return self._cache

    def _refresh_quietly(self) -> None:
        try:
            self._refresh()
        except Exception:  # keep serving from the last good cache while storage is down
            self._loaded_at = time.monotonic() - REFRESH_SECONDS + 1.0
        finally:
            with self._lock:
                self._refreshing = False

    def get(self, site: str) -> Site | None:
        return self._fresh(site).get(site)

    def origin_allowed(self, site: str, origin: str | None) -> bool:
        """Whether a browser `Origin` is registered for `site` (which must exist)."""
        record = self.get(site)
        return bool(record and origin and origin_key(origin) in record.origins)

    def known_origin(self, origin: str) -> bool:
        """Whether a browser `Origin` is registered for any site."""
        key = origin_key(origin)
        return any(key in s.origins for s in self._fresh().values())

    def all(self) -> list[Site]:
        self._refresh()
        return sorted(self._cache.values(), key=lambda s: s.site)

    def add(self, site: str, origins: list[str], *, replace: bool = False) -> Site:
        """Register a site, or add origins to it (`replace`: set exactly these origins)."""
        check_site_id(site)
        normalized = list(dict.fromkeys(normalize_origin(o) for o in origins))  # an origin given twice is kept once
        self._refresh()
        existing = self._cache.get(site)
        if existing and not replace:
            normalized = list(dict.fromkeys([*existing.origins, *normalized]))
        return self._write(site, normalized, existing, existing.revenue_ceiling if existing else 0.0, what="registering a site")

    def configure(self, site: str, *, revenue_ceiling: float) -> Site | None:
        """Change an existing site's settings (None: no such site). Its origins stay."""
        self._refresh()
        existing = self._cache.get(site)
        if existing is None:
            return None
        return self._write(site, list(existing.origins), existing, check_revenue_ceiling(revenue_ceiling),
                           what="changing a site's settings")

    def _write(self, site: str, origins: list[str], existing: Site | None, revenue_ceiling: float, *, what: str) -> Site:
        """A new version of the site's row: every column, so no setting falls back to its default."""
        self.storage.command(
            "INSERT INTO sites (site, origins, created_at, updated_at, revenue_ceiling) VALUES "
            "({site:String}, {origins:Array(String)}, {created:DateTime64(3)}, now64(3), {ceiling:Decimal(18, 4)})",
            {"site": site, "origins": origins, "created": _created(existing), "ceiling": revenue_ceiling},
            what=what,
        )
        self._refresh()
        return self._cache[site]

    def ensure(self, site: str, origins: list[str]) -> Site:
        """Create the site if absent; an existing site keeps its origins plus these."""
        current = self.get(site)
        if current and all(normalize_origin(o) in current.origins for o in origins):
            return current
        return self.add(site, origins)

    def remove(self, site: str) -> None:
        self.storage.command(
            "INSERT INTO sites (site, origins, created_at, updated_at, deleted) VALUES "
            "({site:String}, [], now64(3), now64(3), 1)",
            {"site": site},
            what="removing a site",
        )
        self._refresh()


def _created(existing: Site | None):
    from datetime import UTC, datetime

    if existing and existing.created_at:
        return datetime.fromisoformat(existing.created_at).replace(tzinfo=UTC)
    return datetime.now(UTC)
