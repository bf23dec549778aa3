"""The promotions registry: per promotion its holdout share, linked coupons and schedule.

Written by the admin API (`tracker promo set`), read on every `/api/assign` call and by the
promotion reports; the process's `Promos` is `runtime.promos`. Like the site registry it is small, so the whole table is cached in memory
and refreshed every few seconds: a change made through this process is visible at once, one
made by another server within `REFRESH_SECONDS`.

The holdout assignment is a pure function of (visitor id, promo id): hashing the pair into one
of 10,000 buckets gives every visitor a stable variant per promotion without storing any
assignment, and changing the share moves only the visitors between the old and new cut.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tracker.errors import BadRequest
from tracker.http import iso_time
from tracker.storage.client import Storage

REFRESH_SECONDS = 5.0
BUCKETS = 10_000
MAX_PROMO_ID_LEN = 200  # the limit /api/collect puts on promo.id
MAX_NAME_LEN = 200
MAX_COUPONS = 100
MAX_COUPON_LEN = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

_COLUMNS = "site, promo_id, name, holdout_pct, coupons, starts_at, ends_at, created_at, updated_at"


@dataclass(frozen=True)
class Promo:
    site: str
    promo_id: str
    name: str = ""
    holdout_pct: float = 0.0
    coupons: tuple[str, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def to_json(self) -> dict:
        return {
            "site": self.site,
            "promo_id": self.promo_id,
            "name": self.name,
            "holdout_pct": self.holdout_pct,
            "coupons": list(self.coupons),
            "starts_at": iso_time(self.starts_at),
            "ends_at": iso_time(self.ends_at),
            "created_at": iso_time(self.created_at),
            "updated_at": iso_time(self.updated_at),
        }


def bucket(vid: str, promo_id: str) -> int:
    """The visitor's bucket 0..9999 for this promotion (independent across promotions)."""
    digest = hashlib.sha256(f"{promo_id}\x00{vid}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def variant(vid: str, promo_id: str, holdout_pct: float) -> str:
    """"holdout" for the first `holdout_pct` percent of buckets, else "exposed"."""
    return "holdout" if bucket(vid, promo_id) < round(holdout_pct * BUCKETS / 100) else "exposed"


# --- validation (the admin API's door) -------------------------------------------------------
def clean_promo_id(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > MAX_PROMO_ID_LEN or _CONTROL.search(raw):
        raise BadRequest(f"promo id must be 1-{MAX_PROMO_ID_LEN} printable characters")
    return raw.strip()


def clean_name(raw: object) -> str:
    if not isinstance(raw, str) or len(raw) > MAX_NAME_LEN or _CONTROL.search(raw):
        raise BadRequest(f"name must be at most {MAX_NAME_LEN} printable characters")
    return raw.strip()


def clean_holdout(raw: object) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise BadRequest("holdout_pct must be a number from 0 to 100")
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest("holdout_pct must be a number from 0 to 100") from None
    if not 0 <= value <= 100:  # also rejects NaN
        raise BadRequest("holdout_pct must be a number from 0 to 100")
    return round(value, 2)


def clean_coupons(raw: object) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise BadRequest("coupons must be a list of strings")
    codes = [c.strip().upper() for c in raw if c.strip()]
    if len(codes) > MAX_COUPONS or any(len(c) > MAX_COUPON_LEN or _CONTROL.search(c) for c in codes):
        raise BadRequest(f"at most {MAX_COUPONS} coupons of at most {MAX_COUPON_LEN} printable characters")
    return tuple(dict.fromkeys(codes))


def clean_when(raw: object, field: str, *, end: bool = False) -> datetime | None:
    """ISO date or datetime (UTC unless it says otherwise); empty clears it. A bare end date
    means the end of that day, so `--end 2026-03-31` includes March 31."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise BadRequest(f"{field} must be an ISO date like 2026-03-01")
    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            at = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return at + timedelta(days=1, milliseconds=-1) if end else at
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{field} must be an ISO date like 2026-03-01 or 2026-03-01T09:00:00Z") from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


class Promos:
    def __init__(self, storage: Storage):
        self.storage = storage
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._cache: dict[tuple[str, str], Promo] = {}
        self._loaded_at = float("-inf")

    def _refresh(self) -> None:
        rows = self.storage.query(f"SELECT {_COLUMNS} FROM promos FINAL WHERE deleted = 0", what="reading promotions").rows
        cache = {}
        for r in rows:
            cache[(r[0], r[1])] = Promo(r[0], r[1], r[2], float(r[3]), tuple(r[4]), *(_utc(v) for v in r[5:9]))
        with self._lock:
            self._cache = cache
            self._loaded_at = time.monotonic()

    def _fresh(self) -> dict[tuple[str, str], Promo]:
        if time.monotonic() - self._loaded_at > REFRESH_SECONDS:
            try:
                self._refresh()
            except Exception:  # /api/assign keeps answering from the last good cache while storage is down
                if not self._cache:
                    raise
                self._loaded_at = time.monotonic() - REFRESH_SECONDS + 1.0
        return self._cache

    def get(self, site: str, promo_id: str) -> Promo | None:
        return self._fresh().get((site, promo_id))

    def list(self, site: str) -> list[Promo]:
        self._refresh()
        return sorted((p for (s, _), p in self._cache.items() if s == site), key=lambda p: p.promo_id)

    def coupons(self, site: str) -> dict[str, str]:
        """Coupon code -> the promotion it belongs to (the first by promo id if shared)."""
        found: dict[str, str] = {}
        for promo in self.list(site):
            for code in promo.coupons:
                found.setdefault(code, promo.promo_id)
        return found

    def set(self, site: str, promo_id: str, **changes) -> Promo:
        """Create or update a promotion; fields not given keep their current value.

        changes: name, holdout_pct, coupons, starts_at, ends_at (already cleaned).
        """
        unknown = set(changes) - {"name", "holdout_pct", "coupons", "starts_at", "ends_at"}
        if unknown:
            raise TypeError(f"unknown promotion fields {sorted(unknown)}")
        with self._write_lock:
            self._refresh()
            current = self._cache.get((site, promo_id)) or Promo(site, promo_id)
            merged = {**current.__dict__, **changes}
            if merged["starts_at"] and merged["ends_at"] and merged["ends_at"] < merged["starts_at"]:
                raise BadRequest("ends_at is before starts_at")
            now = datetime.now(UTC)
            # A strictly newer version even within one millisecond, so the last write wins.
            if current.updated_at and now <= current.updated_at:
                now = current.updated_at + timedelta(milliseconds=1)
            merged.update(created_at=current.created_at or now, updated_at=now)
            self._write(Promo(**merged), deleted=0)
            self._refresh()
            return self._cache[(site, promo_id)]

    def remove(self, site: str, promo_id: str) -> bool:
        with self._write_lock:
            self._refresh()
            current = self._cache.get((site, promo_id))
            if current is None:
                return False
            now = max(datetime.now(UTC), current.updated_at + timedelta(milliseconds=1))
            self._write(Promo(site, promo_id, created_at=current.created_at, updated_at=now), deleted=1)
            self._refresh()
            return True

    def _write(self, promo: Promo, *, deleted: int) -> None:
        self.storage.command(
            "INSERT INTO promos (site, promo_id, name, holdout_pct, coupons, starts_at, ends_at, created_at, updated_at, deleted) VALUES "
            "({site:String}, {promo_id:String}, {name:String}, {holdout:Float64}, {coupons:Array(String)}, "
            "{starts:Nullable(DateTime64(3))}, {ends:Nullable(DateTime64(3))}, {created:DateTime64(3)}, {updated:DateTime64(3)}, "
            "{deleted:UInt8})",
            {
                "site": promo.site,
                "promo_id": promo.promo_id,
                "name": promo.name,
                "holdout": promo.holdout_pct,
                "coupons": list(promo.coupons),
                "starts": promo.starts_at,
                "ends": promo.ends_at,
                "created": promo.created_at,
                "updated": promo.updated_at,
                "deleted": deleted,
            },
            what="writing a promotion",
        )


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

