"""Token-bucket rate limits with bounded memory.

Collect: one bucket per IP prefix and one per site; reports: one per token; forget-me and
dashboard sign-in: one per IP prefix. A bucket holds
`burst` tokens and refills at `rate` per second; an empty bucket answers 429 with
`Retry-After`. Buckets live in an LRU of at most `MAX_BUCKETS` keys, so an attacker cycling
through addresses costs bounded memory (an evicted bucket simply starts full again).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

from tracker.config import Settings
from tracker.errors import RateLimited

MAX_BUCKETS = 100_000
LOGIN_RATE = 1.0  # dashboard sign-in attempts per second per network, after the burst
LOGIN_BURST = 30


class Buckets:
    def __init__(self, rate: float, burst: float, max_keys: int = MAX_BUCKETS):
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, cost: float = 1.0) -> float:
        """0 if allowed, else seconds until enough tokens are back."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - stamp) * self.rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (cost - tokens) / self.rate
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


class RateLimiter:
    def __init__(self, settings: Settings):
        self.per_prefix = Buckets(settings.rate_collect_per_prefix, settings.rate_collect_per_prefix * 2)
        self.per_site = Buckets(settings.rate_collect_per_site, settings.rate_collect_per_site * 2)
        self.per_token = Buckets(settings.rate_reports_per_token, settings.rate_reports_per_token * 2)
        # Erasures are expensive (a delete on every visitor table): a few a minute per network.
        per_minute = settings.rate_forget_me_per_minute
        self.forget_me = Buckets(per_minute / 60.0, max(1.0, per_minute))
        # Each sign-in attempt may cost a token lookup: a network gets LOGIN_BURST quickly, then one a second.
        self.login = Buckets(LOGIN_RATE, LOGIN_BURST)

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))

    def _deny(self, wait: float, message: str, headers: dict[str, str] | None = None):
        raise RateLimited(message, headers={"Retry-After": self.retry_after(wait), **(headers or {})})

    def check_collect(self, prefix: str, site: str) -> None:
        """429 when the network (IP prefix) or the site is over its collect rate."""
        wait = self.per_prefix.take(prefix)
        if wait:
            self._deny(wait, "too many requests from your network; slow down")
        wait = self.per_site.take(site)
        if wait:
            self._deny(wait, "too many requests for this site; slow down")

    def check_token(self, token_id: str) -> None:
        wait = self.per_token.take(token_id)
        if wait:
            self._deny(wait, "too many report requests for this token; slow down")

    def check_forget_me(self, prefix: str, headers: dict[str, str]) -> None:
        """429 (with the CORS `headers`, so the page can read it) over the erasure rate."""
        wait = self.forget_me.take(prefix)
        if wait:
            self._deny(wait, "too many erasure requests from your network; retry later", headers)
