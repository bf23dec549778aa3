"""Settings: one frozen, typed object built once at startup.

Every field has a default and a help string; `docs/settings.md` documents each one (a test
checks that). Values come from CLI flags first, then `TRACKER_*` environment variables, then
the default. Nothing else in tracker reads `os.environ`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracker.errors import ConfigError


def _setting(default: Any, help: str, env: str | None = None) -> Any:
    return field(default=default, metadata={"help": help, "env": env})


@dataclass(frozen=True)
class Settings:
    # --- where things live -----------------------------------------------------------------
    data_dir: Path = _setting(Path("./var"), "Data directory: embedded ClickHouse, spool, secrets.", "TRACKER_DATA")
    dsn: str = _setting("", "ClickHouse DSN. Empty means `chdb:///<data_dir>/clickhouse` (embedded).", "TRACKER_DSN")
    cluster: str = _setting("", "ClickHouse cluster name: every table is `<table>_local` on each node plus a Distributed `<table>` sharded by visitor; DDL runs ON CLUSTER with Replicated engines unless `cluster_nodes` is set.", "TRACKER_CLUSTER")
    cluster_nodes: tuple[str, ...] = _setting((), "Comma-separated DSNs of every node of `cluster` (a cluster without Keeper): the DDL is applied to each node in turn, with plain engines.", "TRACKER_CLUSTER_NODES")
    ingest_user: str = _setting("", "ClickHouse user for ingest's inserts (spool flushes, import); insert-only grants: `tracker storage grants`. Empty: the DSN's user.", "TRACKER_INGEST_USER")
    ingest_password: str = _setting("", "Password of `ingest_user`.", "TRACKER_INGEST_PASSWORD")
    reports_user: str = _setting("", "ClickHouse user for reads (reports, listings, exports); read-only with a settings profile: `tracker storage grants`. Empty: the DSN's user.", "TRACKER_REPORTS_USER")
    reports_password: str = _setting("", "Password of `reports_user`.", "TRACKER_REPORTS_PASSWORD")
    database: str = _setting("tracker", "ClickHouse database holding tracker's tables.", "TRACKER_DATABASE")
    host: str = _setting("127.0.0.1", "Address `tracker serve` listens on.", "TRACKER_HOST")
    port: int = _setting(8000, "Port `tracker serve` listens on.", "TRACKER_PORT")
    public_url: str = _setting(
        "", "Public base URL of this tracker (for snippet tags); empty: derived from requests.",
        "TRACKER_PUBLIC_URL",
    )
    log_level: str = _setting("info", "Log level (debug, info, warning, error).", "TRACKER_LOG_LEVEL")

    # --- ingest ------------------------------------------------------------------------------
    cookie_secret: str = _setting(
        "", "Comma-separated HMAC keys for the `_tid` cookie, newest first; empty: keys kept in the data dir.",
        "TRACKER_COOKIE_SECRET",
    )
    trusted_proxies: tuple[str, ...] = _setting(
        (), "Comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed.",
        "TRACKER_TRUSTED_PROXIES",
    )
    respect_dnt: bool = _setting(True, "Treat `DNT: 1` like `Sec-GPC: 1` (store nothing).", "TRACKER_RESPECT_DNT")
    ipv4_prefix: int = _setting(24, "IPv4 prefix length kept (the rest of the address is dropped).", "TRACKER_IPV4_PREFIX")
    ipv6_prefix: int = _setting(48, "IPv6 prefix length kept.", "TRACKER_IPV6_PREFIX")
    spool_fsync: bool = _setting(
        True, "fsync the spool before answering 202 (group commit). Off only for throwaway benchmarks.",
        "TRACKER_SPOOL_FSYNC",
    )
    spool_max_bytes: int = _setting(
        512 * 1024 * 1024, "Spool cap in bytes; above it /api/collect answers 503 + Retry-After.",
        "TRACKER_SPOOL_MAX_BYTES",
    )
    spool_segment_bytes: int = _setting(
        8 * 1024 * 1024, "Spool segment size at which a segment is sealed for flushing.",
        "TRACKER_SPOOL_SEGMENT_BYTES",
    )
    spool_dir: str = _setting("", "Spool directory; empty: `<data_dir>/spool` (each `serve --workers` worker gets `<data_dir>/spool/w<i>`).", "TRACKER_SPOOL_DIR")
    flush_interval: float = _setting(1.0, "Seconds after which a non-empty spool segment is sealed and flushed.", "TRACKER_FLUSH_INTERVAL")
    flush_max_bytes: int = _setting(64 * 1024 * 1024, "Most spool bytes sent to ClickHouse in one insert.", "TRACKER_FLUSH_MAX_BYTES")
    rate_collect_per_prefix: float = _setting(
        2000.0, "Collect requests per second allowed from one IP prefix (burst: twice that); 0 disables.",
        "TRACKER_RATE_COLLECT_PER_PREFIX",
    )
    rate_collect_per_site: float = _setting(
        20000.0, "Collect requests per second allowed for one site (burst: twice that); 0 disables.",
        "TRACKER_RATE_COLLECT_PER_SITE",
    )
    rate_reports_per_token: float = _setting(
        20.0, "Report/API requests per second allowed for one token (burst: twice that); 0 disables.",
        "TRACKER_RATE_REPORTS_PER_TOKEN",
    )
    ua_cache_size: int = _setting(50_000, "Entries in the parsed User-Agent LRU cache.", "TRACKER_UA_CACHE_SIZE")

    # --- storage -----------------------------------------------------------------------------
    retention_days: int = _setting(
        760, "Events older than this many days are dropped by a ClickHouse TTL (about 25 months).",
        "TRACKER_RETENTION_DAYS",
    )
    evidence_retention_days: int = _setting(
        90, "Trust evidence (scores, signals) older than this is dropped by TTL.",
        "TRACKER_EVIDENCE_RETENTION_DAYS",
    )
    audit_retention_days: int = _setting(
        400, "Audit log rows (who called which API) older than this are dropped by TTL.",
        "TRACKER_AUDIT_RETENTION_DAYS",
    )
    privacy_salt: str = _setting(
        "", "Secret salting the visitor-id hashes in the erasure ledger; empty: a salt kept in the data dir.",
        "TRACKER_PRIVACY_SALT",
    )
    rate_forget_me_per_minute: float = _setting(
        6.0, "POST /api/forget-me requests per minute allowed from one IP prefix (burst: the same); 0 disables.",
        "TRACKER_RATE_FORGET_ME_PER_MINUTE",
    )
    query_timeout: float = _setting(30.0, "Seconds a report query may run before it is cancelled (504).", "TRACKER_QUERY_TIMEOUT")
    max_result_rows: int = _setting(100_000, "Most rows a report query may return.", "TRACKER_MAX_RESULT_ROWS")
    orders_grace_minutes: int = _setting(
        60, "Minutes the shop's backend has to confirm a browser purchase (POST /api/orders) before reports show it as unconfirmed.",
        "TRACKER_ORDERS_GRACE_MINUTES",
    )
    revenue_ceiling_factor: float = _setting(
        20.0, "A purchase the backend has not confirmed counts in no revenue above this many times the site's median order "
        "(confirmed orders, else the range's browser purchases); 0 disables the ceiling.", "TRACKER_REVENUE_CEILING_FACTOR",
    )
    revenue_ceiling_min_orders: int = _setting(
        20, "Orders a site needs before its median sets the revenue ceiling (fewer: no ceiling).", "TRACKER_REVENUE_CEILING_MIN_ORDERS",
    )

    # --- trust and safety (docs/trust.md: every reason code, rule, threshold and weight) ------
    trust_threshold: int = _setting(
        50, "Trust score (0-100) at or below which a visitor is excluded from trusted traffic.",
        "TRACKER_TRUST_THRESHOLD",
    )
    trust_revenue_tolerance: float = _setting(
        0.01, "revenue_mismatch: how far (a share, 0.01 = 1%, and at least a cent) a browser purchase may differ from its confirmation.",
        "TRACKER_TRUST_REVENUE_TOLERANCE",
    )
    trust_weights: tuple[str, ...] = _setting(
        (),
        "Comma-separated reason=weight overrides, e.g. velocity=40,fast_click=25; "
        "unnamed reasons keep their default weight (docs/trust.md).",
        "TRACKER_TRUST_WEIGHTS",
    )
    trust_velocity_per_minute: int = _setting(
        120, "velocity: fires when a visitor sends more than this many events in one clock minute.",
        "TRACKER_TRUST_VELOCITY_PER_MINUTE",
    )
    trust_fast_click_ms: int = _setting(
        200, "fast_click: a promo click less than this many ms after the visitor's view of that promo is fast.",
        "TRACKER_TRUST_FAST_CLICK_MS",
    )
    trust_fast_click_min: int = _setting(
        2, "fast_click: fires when a visitor has at least this many fast clicks in the range.",
        "TRACKER_TRUST_FAST_CLICK_MIN",
    )
    trust_click_without_view_min: int = _setting(
        5, "click_without_view: fires when a visitor has at least this many promo clicks with no prior view of that promo.",
        "TRACKER_TRUST_CLICK_WITHOUT_VIEW_MIN",
    )
    trust_clock_skew_seconds: int = _setting(
        3600, "clock_skew: fires when an event's client time is more than this many seconds from server time.",
        "TRACKER_TRUST_CLOCK_SKEW_SECONDS",
    )
    trust_churn_ids: int = _setting(
        20, "cookie_churn_ip: fires when one IP prefix shows at least this many fresh visitor ids within the churn window.",
        "TRACKER_TRUST_CHURN_IDS",
    )
    trust_churn_window_seconds: int = _setting(
        600, "cookie_churn_ip: the window (seconds) in which fresh visitor ids of one IP prefix are counted.",
        "TRACKER_TRUST_CHURN_WINDOW_SECONDS",
    )
    trust_coupon_visitors: int = _setting(
        10, "coupon_shared: a coupon redeemed by at least this many visitors in the range is unusual (a leak needs evidence about the visitor too, docs/trust.md).",
        "TRACKER_TRUST_COUPON_VISITORS",
    )
    trust_coupon_prefixes: int = _setting(
        10, "coupon_shared: ... or by visitors from at least this many IP prefixes in the range.",
        "TRACKER_TRUST_COUPON_PREFIXES",
    )
    trust_public_coupons: tuple[str, ...] = _setting(
        (), "Comma-separated coupon codes meant to be shared widely (newsletter codes): never coupon_shared.",
        "TRACKER_TRUST_PUBLIC_COUPONS",
    )
    # issue #14: rules that hold on unseen traffic (docs/trust.md)
    trust_click_burst: int = _setting(
        8, "click_burst: fires when a visitor sends at least this many promo clicks within any sliding 10 seconds.",
        "TRACKER_TRUST_CLICK_BURST",
    )
    trust_leak_prefix_redeemers: int = _setting(
        5, "coupon_shared evidence: at least this many redeemers of the code share the visitor's IP prefix.",
        "TRACKER_TRUST_LEAK_PREFIX_REDEEMERS",
    )
    trust_leak_burst_redeemers: int = _setting(
        8, "coupon_shared evidence: at least this many redeemers of the code bought within trust_leak_burst_seconds of the visitor.",
        "TRACKER_TRUST_LEAK_BURST_REDEEMERS",
    )
    trust_leak_burst_seconds: int = _setting(
        1800, "coupon_shared evidence: the half-width (seconds) of the window around a redemption in which redeemers are counted.",
        "TRACKER_TRUST_LEAK_BURST_SECONDS",
    )
    trust_leak_fresh_seconds: int = _setting(
        600, "coupon_shared evidence: a visitor first seen at most this long before its purchase, with at most "
        "trust_leak_browse_pageviews pageviews before it, did not browse first.",
        "TRACKER_TRUST_LEAK_FRESH_SECONDS",
    )
    trust_leak_browse_pageviews: int = _setting(
        2, "coupon_shared evidence: pageviews before the purchase that still count as not browsing.",
        "TRACKER_TRUST_LEAK_BROWSE_PAGEVIEWS",
    )
    trust_refresh_seconds: float = _setting(
        60.0, "Seconds between background materialisations of closed days' trust signals; 0 disables the job.",
        "TRACKER_TRUST_REFRESH_SECONDS",
    )
    trust_live_seconds: float = _setting(
        10.0, "Least seconds between two background evaluations of a range's untrusted visitors (trust_as_of lags by "
        "about this plus one evaluation); 0: no background evaluation, a range is evaluated on its first ask only.",
        "TRACKER_TRUST_LIVE_SECONDS",
    )

    # --- serve -------------------------------------------------------------------------------
    workers: int = _setting(1, "Worker processes of `tracker serve` on one socket, each with its own spool (docs/deployment.md).", "TRACKER_WORKERS")
    max_connections: int = _setting(
        2048, "Open connections one serve process keeps; past it the oldest connection still waiting for its request is "
        "closed, and a request when every connection is busy gets 503 (kept below the open-file limit).", "TRACKER_MAX_CONNECTIONS",
    )
    request_read_timeout: float = _setting(
        10.0, "Seconds a connection may take to send a whole request (headers and body) before it is closed (slow clients).",
        "TRACKER_REQUEST_READ_TIMEOUT",
    )
    demo: bool = _setting(False, "Seed the `demo` site with synthetic traffic on first start when it has no events.", "TRACKER_DEMO")

    # --- the command line --------------------------------------------------------------------
    server: str = _setting(
        "", "Base URL of a running `tracker serve` the CLI sends its commands to (`--server`); empty: the one serving the data dir, else in-process.",
        "TRACKER_SERVER",
    )
    token: str = _setting("", "Admin token the CLI sends to `server` (`--token`); empty: the data dir's local CLI token.", "TRACKER_TOKEN")

    @property
    def effective_dsn(self) -> str:
        return self.dsn or f"chdb:///{self.data_dir.resolve() / 'clickhouse'}"

    @property
    def embedded(self) -> bool:
        return self.effective_dsn.startswith("chdb:")

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from flags (`overrides`, None values ignored), then env, then defaults."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw: Any = None
            if overrides and overrides.get(f.name) is not None:
                raw = overrides[f.name]
            elif f.metadata.get("env") and env.get(f.metadata["env"]) not in (None, ""):
                raw = env[f.metadata["env"]]
            if raw is not None:
                values[f.name] = _coerce(f, raw)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(f: dataclasses.Field, raw: Any) -> Any:
    kind = type(f.default)
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is tuple:
            if isinstance(raw, (list, tuple)):
                return tuple(str(x).strip() for x in raw if str(x).strip())
            return tuple(x.strip() for x in str(raw).split(",") if x.strip())
        if isinstance(f.default, Path):
            return Path(raw)
        return kind(raw)
    except (TypeError, ValueError) as exc:
        env = f.metadata.get("env") or f.name
        raise ConfigError(f"setting {f.name} ({env}): cannot read {raw!r} as {kind.__name__}") from exc


def documented_fields() -> list[tuple[str, str, str, Any]]:
    """(name, env var, help, default) of every setting, for docs and the docs test."""
    return [(f.name, f.metadata.get("env") or "", f.metadata["help"], f.default) for f in dataclasses.fields(Settings)]
