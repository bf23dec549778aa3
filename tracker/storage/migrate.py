"""Versioned, idempotent schema migrations.

Migrations are `migrations/NNN_name.sql` files applied in order and recorded in
`schema_migrations`; every statement is itself idempotent (`IF NOT EXISTS`), so a crash
half-way is repaired by the next start. The same files serve the embedded engine, a single
server and a cluster: they are templates rendered here.

Single node: `${events}` -> `events`, `$REPLACING(v)` -> `ReplacingMergeTree(v)`.
Cluster (`TRACKER_CLUSTER=c`): `${events}` -> `events_local`, and a `-- distributed: events KEY`
line adds the `events` Distributed table over it, sharded by KEY, so queries keep reading
`events` in both modes. With Keeper the statements run `ON CLUSTER c` with Replicated engines;
with the nodes listed (`TRACKER_CLUSTER_NODES`, no Keeper) every node is migrated in turn,
with plain engines and its own `schema_migrations`, so a node added later catches up.

Retention is data, not schema: after migrating, `apply_retention` makes each table's TTL
match the current settings (cheap when nothing changed).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources
from string import Template

from tracker.storage.client import Storage
from tracker.storage.repartition import repartition_events
from tracker.storage.views import ensure_views

log = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_ENGINE = re.compile(r"\$(REPLACING|MERGETREE|AGGREGATING|SUMMING)(?:\(([^)]*)\))?")
_DISTRIBUTED = re.compile(r"^--\s*distributed:\s*(\w+)\s+(.+)$")
_TABLE = re.compile(r"\$\{(\w+)\}")

# Tables whose rows expire: table -> (TTL expression with {days}, settings field).
RETENTION: dict[str, tuple[str, str]] = {
    "events": ("toDateTime(ts) + toIntervalDay({days})", "retention_days"),
    "purchases": ("toDateTime(ts) + toIntervalDay({days})", "retention_days"),
    "promo_events": ("toDateTime(ts) + toIntervalDay({days})", "retention_days"),
    "dead_letters": ("toDateTime(at) + toIntervalDay({days})", "evidence_retention_days"),
    "visitor_signals": ("day + toIntervalDay({days})", "evidence_retention_days"),
    "trust_coverage": ("day + toIntervalDay({days})", "evidence_retention_days"),
    "session_days": ("day + toIntervalDay({days})", "retention_days"),
    "session_parts": ("day + toIntervalDay({days})", "retention_days"),
    "session_coverage": ("day + toIntervalDay({days})", "retention_days"),
    "audit_log": ("toDateTime(at) + toIntervalDay({days})", "audit_retention_days"),
}


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("tracker.storage.migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    versions = [m.version for m in found]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a version number: {sorted(versions)}")
    return sorted(found, key=lambda m: m.version)


def render(sql: str, *, cluster: str, database: str, retention_days: int, evidence_days: int, replicated: bool | None = None) -> list[str]:
    """Turn one migration file into the statements to run, in order. `replicated` (default: on
    any cluster): ON CLUSTER DDL with Replicated engines; False: plain DDL for one node."""
    replicated = bool(cluster) if replicated is None else replicated
    on_cluster = f" ON CLUSTER `{cluster}`" if cluster and replicated else ""
    statements = []
    for chunk in re.split(r"^\s*;\s*$", sql, flags=re.M):
        lines = [line for line in chunk.strip().splitlines()]
        directive = next((_DISTRIBUTED.match(line.strip()) for line in lines if _DISTRIBUTED.match(line.strip())), None)
        body = "\n".join(line for line in lines if not line.strip().startswith("--")).strip()
        if directive:
            if cluster:
                name, key = directive.group(1), directive.group(2).strip()
                statements.append(
                    f"CREATE TABLE IF NOT EXISTS `{name}`{on_cluster} AS `{name}_local` "
                    f"ENGINE = Distributed(`{cluster}`, `{database}`, `{name}_local`, {key})"
                )
            continue
        if not body:
            continue
        body = _TABLE.sub(lambda m: f"{m.group(1)}_local" if cluster else m.group(1), body)
        body = _ENGINE.sub(lambda m: _engine(m.group(1), m.group(2), replicated), body)
        body = Template(body).safe_substitute(
            ON_CLUSTER=on_cluster.strip(),
            RETENTION_DAYS=str(int(retention_days)),
            EVIDENCE_DAYS=str(int(evidence_days)),
        )
        statements.append(body)
    return statements


def _engine(kind: str, args: str | None, replicated: bool) -> str:
    base = {"REPLACING": "ReplacingMergeTree", "MERGETREE": "MergeTree", "AGGREGATING": "AggregatingMergeTree", "SUMMING": "SummingMergeTree"}[kind]
    if not replicated:
        return f"{base}({args or ''})"
    replicated = ["'/clickhouse/tables/{shard}/{database}/{table}'", "'{replica}'"]
    if args:
        replicated.append(args)
    return f"Replicated{base}({', '.join(replicated)})"


def migrate(storage: Storage) -> list[int]:
    """Apply pending migrations (on each listed node of a Keeper-less cluster); return the
    versions applied now (on the last node)."""
    applied: list[int] = []
    for node in storage.nodes():
        applied = _migrate_node(node)
        repartition_events(node)  # a store of the month layout, once (storage.repartition)
        ensure_views(node)  # after both: a new view, or one that a rebuilt events lost (storage.views)
    return applied


def _migrate_node(storage: Storage) -> list[int]:
    settings = storage.settings
    storage.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations" + storage.on_cluster +
        " (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))"
        " ENGINE = " + _engine("MERGETREE", None, storage.replicated) + " ORDER BY version",
        what="creating schema_migrations",
    )
    done = {row[0] for row in storage.query("SELECT version FROM schema_migrations", what="reading migrations").rows}
    applied = []
    for migration in load_migrations():
        if migration.version in done:
            continue
        for statement in render(
            migration.sql,
            cluster=storage.cluster,
            database=storage.database,
            retention_days=settings.retention_days,
            evidence_days=settings.evidence_retention_days,
            replicated=storage.replicated,
        ):
            storage.command(statement, what=f"migration {migration.version:03d}_{migration.name}")
        storage.command(
            "INSERT INTO schema_migrations (version, name) VALUES ({v:UInt32}, {n:String})",
            {"v": migration.version, "n": migration.name},
            what="recording migration",
        )
        log.info("applied migration %03d_%s", migration.version, migration.name)
        applied.append(migration.version)
    apply_retention(storage)
    return applied


def apply_retention(storage: Storage) -> None:
    """Make each expiring table's TTL match the settings (on every node); no-op when it already does."""
    for node in storage.nodes():
        _retention_of_node(node)


def _retention_of_node(storage: Storage) -> None:
    for table, (expression, field) in RETENTION.items():
        days = int(getattr(storage.settings, field))
        local = storage.local(table)
        engine_full = storage.scalar(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            {"t": local},
            what="reading table TTL",
        )
        if engine_full is None:
            continue
        if f"toIntervalDay({days})" in engine_full:
            continue
        storage.command(
            f"ALTER TABLE `{local}`{storage.on_cluster} MODIFY TTL {expression.format(days=days)}",
            what=f"setting retention of {table}",
        )
        log.info("retention of %s set to %d days", table, days)
