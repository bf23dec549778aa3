"""The long-lived parts of a running tracker, opened once per process.

An embedded (chDB) data dir can be opened by one process only, so everything that touches
storage hangs off one `Runtime`: the server's lifespan owns it, and the CLI builds one when
no server holds the dir.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from tracker.auth.audit import AuditLog
from tracker.auth.tokens import Tokens
from tracker.config import Settings
from tracker.errors import StorageError
from tracker.ingest.flusher import Flusher
from tracker.ingest.network import DailySalt, Network
from tracker.ingest.pipeline import Pipeline
from tracker.ingest.spool import Spool
from tracker.ingest.useragent import AgentParser
from tracker.ingest.visitor_id import VisitorIds, load_keys
from tracker.ratelimit import RateLimiter
from tracker.reports.trust import cache as trust_cache
from tracker.reports.trust.materialise import start_trust_job
from tracker.sites import Sites
from tracker.storage.client import Storage
from tracker.storage.migrate import migrate

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    storage: Storage
    sites: Sites
    tokens: Tokens
    ids: VisitorIds
    agents: AgentParser
    network: Network
    spool: Spool
    flusher: Flusher
    pipeline: Pipeline
    rate_limiter: RateLimiter
    audit: AuditLog = field(init=False)  # built from storage: the audit log's batch writer
    extras: dict[str, Any] = field(default_factory=dict)
    _started: bool = False

    def __post_init__(self) -> None:
        self.audit = AuditLog(self.storage)

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        data = settings.data_dir.resolve()
        data.mkdir(parents=True, exist_ok=True)
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
        ids = VisitorIds(load_keys(settings.cookie_secret, data))
        agents = AgentParser(settings.ua_cache_size)
        network = Network(
            trusted_proxies=settings.trusted_proxies,
            v4_prefix=settings.ipv4_prefix,
            v6_prefix=settings.ipv6_prefix,
            salt=DailySalt(data / "ip_salt.json"),
        )
        spool = Spool(
            data / "spool",
            segment_bytes=settings.spool_segment_bytes,
            max_bytes=settings.spool_max_bytes,
            fsync=settings.spool_fsync,
            seal_after=settings.flush_interval,
        )
        flusher = Flusher(storage, spool, interval=settings.flush_interval, max_bytes=settings.flush_max_bytes)
        if not schema_ready:
            flusher.before_insert = lambda: migrate(storage)
        pipeline = Pipeline(sites=sites, ids=ids, agents=agents, network=network, respect_dnt=settings.respect_dnt)
        return cls(
            settings=settings,
            storage=storage,
            sites=sites,
            tokens=Tokens(storage),
            ids=ids,
            agents=agents,
            network=network,
            spool=spool,
            flusher=flusher,
            pipeline=pipeline,
            rate_limiter=RateLimiter(settings),
        )

    def import_pool(self):
        """Worker processes for `tracker import`, started on first use."""
        if "import_pool" not in self.extras:
            from tracker.ingest.importer import start_pool

            self.extras["import_pool"] = start_pool(self.settings, self.settings.data_dir.resolve() / "ip_salt.json")
        return self.extras["import_pool"]

    def attach(self, state: Any) -> None:
        state.runtime = self
        for name in ("settings", "storage", "sites", "tokens", "ids", "agents", "network", "spool", "flusher", "pipeline", "rate_limiter", "audit"):
            setattr(state, name, getattr(self, name))

    def start(self) -> None:
        if not self._started:
            self.flusher.start()
            self.audit.start()
            self.extras["trust_job"] = start_trust_job(self.storage, self.settings)
            self._started = True

    def stop_background(self) -> None:
        """Shared runtimes (tests) keep running between apps."""

    def close(self) -> None:
        pool = self.extras.pop("import_pool", None)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self._started:
            self.extras["trust_job"].stop()  # before storage closes under it
            self.flusher.stop()
            try:
                self.audit.stop()  # writes what is pending
            except Exception:  # storage away at exit: the last second of audit is lost, not the shutdown
                log.warning("audit log entries could not be written at shutdown")
        try:
            trust_cache.close(self.storage)  # the untrusted sets are a cache of this process
        except StorageError:
            log.warning("cached untrusted-visitor sets could not be dropped at shutdown (a TTL clears them)")
        self.spool.close()
        self.storage.close()
