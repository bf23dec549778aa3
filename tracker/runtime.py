"""The long-lived parts of a running tracker, opened once per process.

Every object that outlives a request is a typed field of one `Runtime`, built from `Settings`
in `Runtime.open`: storage, registries, caches, sessions, buckets, background jobs. Nothing
else holds state across requests — no module globals, nothing attached to `app.state` but
the runtime itself, which handlers reach with `tracker.http.runtime_of(request)`.

An embedded (chDB) data dir can be opened by one process only, so the server's lifespan owns
the runtime, and the CLI builds one when no server holds the dir.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from tracker.auth.audit import AuditLog
from tracker.auth.sessions import Sessions
from tracker.auth.tokens import Tokens
from tracker.config import Settings
from tracker.errors import StorageError
from tracker.ingest.flusher import Flusher
from tracker.ingest.importer import ImportPool
from tracker.ingest.network import DailySalt, Network
from tracker.ingest.pipeline import Pipeline
from tracker.ingest.spool import Spool
from tracker.ingest.useragent import AgentParser
from tracker.ingest.visitor_id import VisitorIds, load_keys
from tracker.promos.registry import Promos
from tracker.ratelimit import RateLimiter
from tracker.reports.trust.live import LiveTrust
from tracker.reports.trust.materialise import TrustJob
from tracker.reports.trust.score import TrustConfig
from tracker.sites import Sites
from tracker.storage.client import Storage
from tracker.storage.migrate import migrate

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    storage: Storage
    sites: Sites  # the site registry (cached, snapshotted for ingest while storage is down)
    tokens: Tokens
    audit: AuditLog  # the audit log's batch writer (a thread once started)
    ids: VisitorIds  # signs and checks the `_tid` cookie
    agents: AgentParser
    network: Network  # client IP rule, prefixes and the daily salt
    spool: Spool
    flusher: Flusher  # spool -> ClickHouse (a thread once started)
    rate_limiter: RateLimiter  # every token bucket: collect, reports, forget-me, dashboard sign-in
    pipeline: Pipeline  # ingest's named steps and its drop counters
    import_pool: ImportPool  # worker processes of large imports, spawned on first use
    promos: Promos  # the promotions registry
    sessions: Sessions  # dashboard session cookies
    trust: TrustConfig  # the one trust configuration, passed to every trust query
    trust_sets: LiveTrust  # each asked range's newest untrusted-visitor set, kept fresh (a thread once started)
    trust_job: TrustJob  # materialises closed days' trust signals (a thread once started)
    _started: bool = field(default=False, repr=False)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        data = settings.data_dir.resolve()
        data.mkdir(parents=True, exist_ok=True)
        trust = TrustConfig.from_settings(settings)  # a bad trust setting fails before storage opens
        storage = Storage(settings)
        schema_ready = True
        try:
            migrate(storage)
        except StorageError:
            if settings.embedded:
                storage.close()
                raise
            # A ClickHouse server may be down at start: ingest still accepts into the spool,
            # and the flusher applies the migrations before its first insert.
            log.warning("ClickHouse unreachable at start; events are spooled until it answers")
            schema_ready = False
        except Exception:
            storage.close()
            raise
        sites = Sites(storage, snapshot=data / "sites.json")
        cookie_keys = load_keys(settings.cookie_secret, data)
        ids = VisitorIds(cookie_keys)
        agents = AgentParser(settings.ua_cache_size)
        network = Network(
            trusted_proxies=settings.trusted_proxies,
            v4_prefix=settings.ipv4_prefix,
            v6_prefix=settings.ipv6_prefix,
            salt=DailySalt(data / "ip_salt.json"),
        )
        spool = Spool(
            Path(settings.spool_dir) if settings.spool_dir else data / "spool",
            segment_bytes=settings.spool_segment_bytes,
            max_bytes=settings.spool_max_bytes,
            fsync=settings.spool_fsync,
            seal_after=settings.flush_interval,
        )
        flusher = Flusher(storage, spool, interval=settings.flush_interval, max_bytes=settings.flush_max_bytes)
        if not schema_ready:
            flusher.before_insert = lambda: migrate(storage)
        rate_limiter = RateLimiter(settings)
        trust_sets = LiveTrust(storage, trust, interval=settings.trust_live_seconds, pending=lambda: spool.size_bytes > 0,
                               sites=lambda: [s.site for s in sites.all()])
        flusher.on_flushed.append(trust_sets.notify_flushed)
        return cls(
            settings=settings,
            storage=storage,
            sites=sites,
            tokens=Tokens(storage),
            audit=AuditLog(storage),
            ids=ids,
            agents=agents,
            network=network,
            spool=spool,
            flusher=flusher,
            rate_limiter=rate_limiter,
            pipeline=Pipeline(sites=sites, ids=ids, agents=agents, network=network, limiter=rate_limiter, spool=spool,
                              respect_dnt=settings.respect_dnt),
            import_pool=ImportPool(settings, data / "ip_salt.json"),
            promos=Promos(storage),
            sessions=Sessions(cookie_keys, storage),
            trust=trust,
            trust_sets=trust_sets,
            trust_job=TrustJob(storage, trust, settings.trust_refresh_seconds),
        )

    def start(self) -> None:
        """Start the background threads (flusher, audit writer, trust job, trust evaluator); idempotent."""
        if not self._started:
            self.flusher.start()
            self.audit.start()
            self.trust_job.start()
            self.trust_sets.start()
            self._started = True

    def close(self) -> None:
        self.import_pool.shutdown()
        if self._started:
            self.trust_sets.stop()  # the background threads stop before storage closes under them
            self.trust_job.stop()
            self.flusher.stop()
            try:
                self.audit.stop()  # writes what is pending
            except Exception:  # storage away at exit: the last second of audit is lost, not the shutdown
                log.warning("audit log entries could not be written at shutdown")
        try:
            self.trust_sets.close()  # the untrusted sets are this process's evaluations
        except StorageError:
            log.warning("cached untrusted-visitor sets could not be dropped at shutdown (a TTL clears them)")
        self.spool.close()
        self.storage.close()
