"""Ingest as named steps: a parsed batch + request facts -> rows to spool, or a drop reason.

Request-level steps, in `STEPS` order, each either passes or drops the whole batch with a
reason from the closed set `DropReason`:

    rate_limited        too many requests from the network or for the site (answered 429)
    opt_out             Sec-GPC: 1, DNT: 1 (unless configured off) or the opt-out cookie
    unknown_site        the site id is not registered
    origin_not_allowed  a browser Origin that is not registered for the site

Every event of a batch that passed is then enriched with what the server knows (visitor id,
user agent, network) and encoded once into its JSONEachRow row; the last step, `spool`,
appends those rows to the spool and drops with `spool_full` above its cap, or with
`spool_unavailable` while the spool's disk fails or does not confirm the write in time (both
answered 503 + Retry-After; nothing is acknowledged).
The silent drops are answered `202 {"accepted": 0}` so probes learn nothing. The pipeline is
the one writer of the drop counters (`dropped`, shown in /readyz). Trust signals are *flags*
on the row (bot UA, headless, forged cookie, no Origin), never drops: the fraud team sees them.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum

from tracker.errors import RateLimited
from tracker.http import RequestFacts
from tracker.ingest.network import Network
from tracker.ingest.rows import Context, encode_row
from tracker.ingest.schema import Batch, Rejection
from tracker.ingest.spool import Spool, SpoolFull, SpoolUnavailable
from tracker.ingest.useragent import AgentParser
from tracker.ingest.visitor_id import Identity, VisitorIds
from tracker.ratelimit import RateLimiter
from tracker.sites import Site, Sites, origin_key


class DropReason(StrEnum):
    RATE_LIMITED = "rate_limited"
    OPT_OUT = "opt_out"
    UNKNOWN_SITE = "unknown_site"
    ORIGIN_NOT_ALLOWED = "origin_not_allowed"
    SPOOL_FULL = "spool_full"
    SPOOL_UNAVAILABLE = "spool_unavailable"


DROP_REASONS = tuple(r.value for r in DropReason)


@dataclass(frozen=True, slots=True)
class Accepted:
    payload: bytes  # JSONEachRow rows, ready for the spool
    count: int
    rejected: tuple[Rejection, ...]
    identity: Identity | None
    set_cookie: str | None  # cookie value to set
    origin_allowed: bool


@dataclass(frozen=True, slots=True)
class Dropped:
    reason: DropReason
    rejected: tuple[Rejection, ...]
    origin_allowed: bool = False


@dataclass(slots=True)
class _Request:
    """What the request-level steps learn on the way (one per request, never shared)."""

    batch: Batch
    facts: RequestFacts
    ip: str
    site: Site | None = None
    origin_allowed: bool = False


class Pipeline:
    def __init__(self, *, sites: Sites, ids: VisitorIds, agents: AgentParser, network: Network, limiter: RateLimiter,
                 spool: Spool, respect_dnt: bool):
        self.sites = sites
        self.ids = ids
        self.agents = agents
        self.network = network
        self.limiter = limiter
        self._spool = spool
        self.respect_dnt = respect_dnt
        self._dropped: Counter[DropReason] = Counter()
        self.accepted_events = 0
        self.rejected_events = 0
        self.client_disconnects = 0  # requests whose client left before the end (not errors)

    # --- the drop counters -----------------------------------------------------------------
    def _drop(self, reason: DropReason, rejected: tuple[Rejection, ...] = (), origin_allowed: bool = False) -> Dropped:
        self._dropped[reason] += 1
        return Dropped(reason, rejected, origin_allowed)

    @property
    def dropped(self) -> Counter[str]:
        """Dropped requests per reason so far (a copy: only the steps write the counters)."""
        return Counter({reason.value: n for reason, n in self._dropped.items()})

    def note_disconnect(self) -> None:
        """A client went away mid-request (counted, shown in /readyz; never logged as an error)."""
        self.client_disconnects += 1

    # --- request-level steps: True passes ----------------------------------------------------
    def _within_rate(self, r: _Request) -> bool:
        # Raises RateLimited (429 + Retry-After) once the drop is counted: the client must hear it.
        prefix, _ = self.network.describe(r.ip)
        try:
            self.limiter.check_collect(prefix or "?", r.batch.site)
        except RateLimited:
            self._drop(DropReason.RATE_LIMITED)
            raise
        return True

    def _not_opted_out(self, r: _Request) -> bool:
        return not r.facts.opted_out(self.respect_dnt)

    def _known_site(self, r: _Request) -> bool:
        r.site = self.sites.get(r.batch.site)
        return r.site is not None

    def _allowed_origin(self, r: _Request) -> bool:
        # No Origin header: a server-side sender, accepted (and flagged by has_origin = 0).
        if r.facts.origin is None:
            return True
        r.origin_allowed = origin_key(r.facts.origin) in r.site.origins  # type: ignore[union-attr]
        return r.origin_allowed

    # --- the run -------------------------------------------------------------------------------
    def run(self, batch: Batch, facts: RequestFacts) -> Accepted | Dropped:
        self.rejected_events += len(batch.rejected)
        r = _Request(batch, facts, self.network.client_ip(facts.peer, facts.forwarded_for))
        for reason, passes in STEPS:
            if not passes(self, r):
                return self._drop(reason, batch.rejected)
        # enrich
        identity, cookie = self.ids.identify(facts.cookie)
        agent = self.agents.parse(facts.user_agent)
        prefix, ip_hash = self.network.describe(r.ip)
        ctx = Context(
            site=batch.site,
            received_ms=int(time.time() * 1000),
            vid=identity.vid,
            id_source="cookie",
            minted=identity.is_new,
            id_forged=identity.forged,
            agent=agent,
            ip_prefix=prefix,
            ip_hash=ip_hash,
            has_origin=facts.origin is not None,
        )
        payload = b"".join(encode_row(event, ctx) for _, event in batch.events)
        self.accepted_events += len(batch.events)
        return Accepted(payload, len(batch.events), batch.rejected, identity, cookie, r.origin_allowed)

    def spool(self, accepted: Accepted) -> int:
        """The last step: append the rows to the spool; the ticket to wait on for durability.
        Raises SpoolFull or SpoolUnavailable (answered 503 + Retry-After) after counting the drop."""
        try:
            return self._spool.append(accepted.payload)
        except SpoolFull:
            self._drop(DropReason.SPOOL_FULL)
            raise
        except SpoolUnavailable:
            self._drop(DropReason.SPOOL_UNAVAILABLE)
            raise

    async def wait_durable(self, ticket: int) -> None:
        """Return once the spooled rows are on disk; SpoolUnavailable (counted) if the disk
        fails or does not confirm them within the spool's deadline."""
        try:
            await self._spool.wait_durable(ticket)
        except SpoolUnavailable:
            self._drop(DropReason.SPOOL_UNAVAILABLE)
            raise


# The request-level steps, in order: the reason each drops with, and its check.
STEPS = (
    (DropReason.RATE_LIMITED, Pipeline._within_rate),
    (DropReason.OPT_OUT, Pipeline._not_opted_out),
    (DropReason.UNKNOWN_SITE, Pipeline._known_site),
    (DropReason.ORIGIN_NOT_ALLOWED, Pipeline._allowed_origin),
)
