"""Where a request came from, without keeping the address.

The client IP is the socket peer, or the right-most `X-Forwarded-For` hop not in the
configured trusted-proxy list when (and only when) the peer itself is a trusted proxy. It is
reduced at once to a network prefix (/24 IPv4, /48 IPv6 by default) and a hash salted with
a random salt that changes every UTC day; yesterday's salt is deleted, so hashes cannot be
linked across days nor reversed by trying all 2^32 addresses.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import os
import secrets
import socket
import threading
import time
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import orjson


class DailySalt:
    def __init__(self, path: Path | None):
        self._path = path
        self._lock = threading.Lock()
        self._day = ""
        self._day_number = -1
        self._salt = b""

    def current(self) -> tuple[str, bytes]:
        day_number = int(time.time() // 86400)
        if day_number != self._day_number:
            with self._lock:
                if day_number != self._day_number:
                    day = datetime.fromtimestamp(day_number * 86400, UTC).strftime("%Y-%m-%d")
                    self._salt = self._load_or_create(day)
                    self._day = day
                    self._day_number = day_number
        return self._day, self._salt

    def _load_or_create(self, day: str) -> bytes:
        if self._path is None:
            return secrets.token_bytes(16)
        # Several processes share the file (`serve --workers`, import workers): the first one to
        # see a new day creates its salt, under a lock, and the others read that one.
        with open(self._path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return self._load_or_create_locked(day)

    def _load_or_create_locked(self, day: str) -> bytes:
        if self._path is not None and self._path.exists():
            try:
                stored = orjson.loads(self._path.read_bytes())
                if stored.get("day") == day:
                    return bytes.fromhex(stored["salt"])
            except (orjson.JSONDecodeError, KeyError, ValueError):
                pass
        salt = secrets.token_bytes(16)
        if self._path is not None:
            tmp = self._path.with_suffix(".tmp")
            tmp.write_bytes(orjson.dumps({"day": day, "salt": salt.hex()}))
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._path)  # the previous day's salt is gone for good
        return salt


class Network:
    def __init__(self, *, trusted_proxies: tuple[str, ...], v4_prefix: int, v6_prefix: int, salt: DailySalt):
        self._proxies = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        self._v4 = v4_prefix
        self._v6 = v6_prefix
        self._salt = salt
        self._describe = lru_cache(maxsize=100_000)(self._describe_uncached)

    def client_ip(self, peer: str | None, forwarded_for: str | None) -> str:
        """The address to attribute the request to; never taken from the body."""
        peer = peer or ""
        if not (self._proxies and forwarded_for and self.is_trusted_proxy(peer)):
            return peer
        for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
            if not hop:
                continue
            if not self.is_trusted_proxy(hop):
                return hop
        return peer

    def is_trusted_proxy(self, address: str) -> bool:
        """Whether `address` is one of the configured reverse proxies (whose X-Forwarded-* we believe)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self._proxies)

    def describe(self, address: str) -> tuple[str, str]:
        """(prefix, salted hash) of an address; ("", "") when it is not an IP address."""
        day, salt = self._salt.current()
        return self._describe(address, day, salt)

    def _describe_uncached(self, address: str, day: str, salt: bytes) -> tuple[str, str]:
        if self._v4 == 24 and address.count(".") == 3:  # the common case, without ipaddress objects
            try:
                packed = socket.inet_pton(socket.AF_INET, address)
            except OSError:
                packed = b""
            if packed:
                prefix = f"{packed[0]}.{packed[1]}.{packed[2]}.0/24"
                return prefix, hashlib.blake2b(packed, key=salt, digest_size=8).hexdigest()
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return "", ""
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        bits = self._v4 if ip.version == 4 else self._v6
        prefix = str(ipaddress.ip_network(f"{ip}/{bits}", strict=False))
        digest = hashlib.blake2b(ip.packed, key=salt, digest_size=8).hexdigest()
        return prefix, digest
