"""Ingest as named steps: a parsed batch + request facts -> rows to spool, or a drop reason.

Request-level steps, in order, each either passes or drops the whole batch with a reason
from the closed set `DROP_REASONS` (each counted, shown in /readyz):

    opt_out          Sec-GPC: 1, DNT: 1 (unless configured off) or the opt-out cookie
    unknown_site     the site id is not registered
    origin_not_allowed  a browser Origin that is not registered for the site
    rate_limited     (raised as 429 by the rate limiter, counted here)

Then every event is enriched with what the server knows (visitor id, user agent, network)
and encoded once into its JSONEachRow row. Trust signals are *flags* on the row (bot UA,
headless, forged cookie, no Origin), never drops: the fraud team sees them.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from tracker.ingest.network import Network
from tracker.ingest.rows import Context, encode_row
from tracker.ingest.schema import Batch, Rejection
from tracker.ingest.useragent import AgentParser
from tracker.ingest.visitor_id import Identity, VisitorIds
from tracker.sites import Sites

DROP_REASONS = ("opt_out", "unknown_site", "origin_not_allowed", "rate_limited", "spool_full")


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """Everything the server (not the body) says about a request."""

    peer: str | None
    forwarded_for: str | None
    origin: str | None
    user_agent: str
    cookie: str | None
    optout_cookie: bool
    gpc: bool
    dnt: bool


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
    reason: str
    rejected: tuple[Rejection, ...]
    origin_allowed: bool = False


class Pipeline:
    def __init__(self, *, sites: Sites, ids: VisitorIds, agents: AgentParser, network: Network, respect_dnt: bool):
        self.sites = sites
        self.ids = ids
        self.agents = agents
        self.network = network
        self.respect_dnt = respect_dnt
        self.dropped: Counter[str] = Counter()
        self.accepted_events = 0
        self.rejected_events = 0

    def drop(self, reason: str, rejected: tuple[Rejection, ...] = (), origin_allowed: bool = False) -> Dropped:
        self.dropped[reason] += 1
        return Dropped(reason, rejected, origin_allowed)

    def origin_allowed(self, site: str, origin: str | None) -> bool:
        record = self.sites.get(site)
        return bool(record and origin and origin.lower().rstrip("/") in record.origins)

    def run(self, batch: Batch, facts: RequestFacts) -> Accepted | Dropped:
        self.rejected_events += len(batch.rejected)
        # step: opt_out
        if facts.gpc or facts.optout_cookie or (self.respect_dnt and facts.dnt):
            return self.drop("opt_out", batch.rejected)
        # step: unknown_site
        site = self.sites.get(batch.site)
        if site is None:
            return self.drop("unknown_site", batch.rejected)
        # step: origin_not_allowed (no Origin header: a server-side sender, accepted and flagged)
        origin_allowed = False
        if facts.origin is not None:
            origin_allowed = facts.origin.lower().rstrip("/") in site.origins
            if not origin_allowed:
                return self.drop("origin_not_allowed", batch.rejected)
        # enrich
        identity, cookie = self.ids.identify(facts.cookie)
        agent = self.agents.parse(facts.user_agent)
        ip = self.network.client_ip(facts.peer, facts.forwarded_for)
        prefix, ip_hash = self.network.describe(ip)
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
        return Accepted(payload, len(batch.events), batch.rejected, identity, cookie, origin_allowed)
