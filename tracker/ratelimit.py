"""Token-bucket rate limits with bounded memory.

Collect: one bucket per IP prefix and one per site; reports: one per token; forget-me: one
per IP prefix. A bucket holds
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

    @staticmethod
    def _deny(wait: float, what: str):
        raise RateLimited(f"too many {what}; slow down", headers={"Retry-After": str(max(1, math.ceil(wait)))})

    def check_collect(self, request, site: str, facts) -> None:
        network = request.app.state.network
        prefix, _ = network.describe(network.client_ip(facts.peer, facts.forwarded_for))
        wait = self.per_prefix.take(prefix or "?")
        if wait:
            request.app.state.pipeline.dropped["rate_limited"] += 1
            self._deny(wait, "requests from your network")
        wait = self.per_site.take(site)
        if wait:
            request.app.state.pipeline.dropped["rate_limited"] += 1
            self._deny(wait, "requests for this site")

    def check_token(self, token_id: str) -> None:
        wait = self.per_token.take(token_id)
        if wait:
            self._deny(wait, "report requests for this token")
