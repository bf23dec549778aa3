"""The events table partitioned by UTC day, and closed days kept in one merged part.

Why. Reports read `events FINAL` (ReplacingMergeTree on (site, event_id): a redelivered
event id counts once). The sorting key is the client's random event id, so a range filter on
`ts` cannot skip granules inside a part, and FINAL has to merge every part of every partition
the range touches. With month partitions a 30-day report on a live shop merged the whole month
(the month's big parts plus each flush's small new ones) on every read: at 10M events the
per-visitor timeline cost 1.54 s with FINAL against 0.43 s without. Partitioned by day:
- a range reads only its days' partitions (a 7-day report reads 7 days);
- with `do_not_merge_across_partitions_select_final` (storage.client) a partition holding a
  single merged part is read as it is, without the merging step, so closed days cost what a
  plain read costs and FINAL only merges today's partition: 0.64 s for the same timeline;
- `compact_closed_days` (run by the trust job, which already walks closed days) merges each
  closed day that still has several parts, or an unmerged one, into one part (in `events` and
  in `purchases`, its purchase rows: migration 083).

Semantics. Copies of an event id are collapsed within one UTC day partition. Live events are
stored at their receive time, and the spool's replays and imports carry the first copy's time,
so their copies share a day; what crosses midnight is a client re-sending an event it could
not confirm (the snippet re-sends unconfirmed purchases on its next page), and revenue counts
each order id once whatever the number of its purchase events.

Upgrade. Stores created before this layout are rebuilt once at start (`repartition_events`,
called by `migrate` on every node): the month table is renamed away, an empty day table takes
its name (writers keep inserting), the old rows are copied with merges stopped, the row count
is checked, and the old table is dropped. A start that stopped half-way resumes from the
state it finds (a copy repeated only adds copies that FINAL collapses). A Keeper-managed replicated cluster is left as
it is (logged; docs/deployment.md has the operator's procedure): its tables are not rebuilt
behind the replication log's back.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from tracker.storage.client import Storage

log = logging.getLogger(__name__)

DAY_KEY = "toDate(ts)"
SCRATCH = "{table}_by_month"  # the old table while its rows are copied
# A closed day is one whose end is at least this far behind: the spool has flushed it.
SETTLE = timedelta(minutes=5)
MAX_COMPACTIONS = 31  # days merged per call: bounded work for a background tick (a month after an upgrade)

_PARTITION_ID = re.compile(r"^\d{8}$")  # toDate partitions: YYYYMMDD
_KEY = "SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}"
_UNMERGED = """
    SELECT partition_id
    FROM system.parts
    WHERE database = currentDatabase() AND table = {t:String} AND active
      AND toDate(partition) < {closed:Date}
    GROUP BY partition_id
    HAVING count() > 1 OR max(level) = 0
    ORDER BY partition_id DESC
    LIMIT {limit:UInt32}
"""


def repartition_events(storage: Storage) -> bool:
    """Rebuild this node's events table partitioned by day if it is not; True when rebuilt.

    The month table is renamed away first and an empty day table takes its name, so a writer
    (a spool recovered at start, another worker) inserts into the new table while the old rows
    are copied over: nothing lands in a table about to be dropped."""
    table = storage.local("events")
    old = SCRATCH.format(table=table)
    key = storage.scalar(_KEY, {"t": table}, what="reading the events partition key")
    kept = storage.scalar(_KEY, {"t": old}, what="reading the events partition key")
    if key == DAY_KEY and kept is None:
        return False  # the usual case
    if key is not None and key != DAY_KEY:
        if storage.replicated:
            log.warning("events is partitioned by %s; on a replicated cluster tracker does not rebuild it (docs/deployment.md)", key)
            return False
        if kept is not None:
            raise RuntimeError(f"both {table} and {old} exist in the month layout: resolve by hand before starting")
        log.info("rebuilding %s partitioned by day (once; copies every event)", table)
        storage.command(f"RENAME TABLE `{table}` TO `{old}`", what="repartitioning events")
    if key is None or key != DAY_KEY:  # renamed away now, or by a start that stopped here
        ddl = storage.scalar(f"SHOW CREATE TABLE `{old}`", what="reading the events table")
        new_ddl, renamed = re.subn(r"^CREATE TABLE \S+", f"CREATE TABLE IF NOT EXISTS `{table}`", ddl, count=1)
        new_ddl, keyed = re.subn(r"^PARTITION BY .*$", f"PARTITION BY {DAY_KEY}", new_ddl, count=1, flags=re.M)
        if not (renamed and keyed):
            raise RuntimeError(f"unexpected events table definition, not rebuilt: {ddl[:200]}")
        storage.command(new_ddl, what="repartitioning events")
    # Copy every partition in one statement, row for row: no merging on insert and none in the
    # background until the count is checked (a merge would drop duplicate copies and make the
    # count lie). A copy repeated after a crash only adds copies that FINAL and merges collapse
    # (same key, same MATERIALIZED dedup_ver from received_at).
    storage.command(f"SYSTEM STOP MERGES `{table}`", what="repartitioning events")
    try:
        storage.command(f"INSERT INTO `{table}` SELECT * FROM `{old}`", what="repartitioning events",
                        settings={"max_partitions_per_insert_block": 0, "max_insert_threads": 2, "optimize_on_insert": 0})
        before = storage.scalar(f"SELECT count() FROM `{old}`", what="repartitioning events")
        after = storage.scalar(f"SELECT count() FROM `{table}`", what="repartitioning events")
    finally:
        storage.command(f"SYSTEM START MERGES `{table}`", what="repartitioning events")
    if after < before:
        raise RuntimeError(f"repartitioning events copied {after} of {before} rows; {old} is kept")
    storage.command(f"DROP TABLE `{old}`", what="repartitioning events")
    log.info("events partitioned by day: %d rows", after)
    return True


def compact_closed_days(storage: Storage, *, now: datetime | None = None, limit: int = MAX_COMPACTIONS) -> list[str]:
    """Merge closed day partitions that hold several parts (or one never merged) into one part,
    on every node, in `events`, `purchases` and `promo_events` (its purchase and promotion rows,
    read with FINAL the same way); returns the events partition ids merged (of the last node)."""
    now = (now or datetime.now(UTC)).replace(tzinfo=None)
    closed = (now - SETTLE).date()
    merged: list[str] = []
    for node in storage.nodes():
        for name in COMPACTED:
            done = _compact(node, node.local(name), closed, limit)
            merged = done if name == "events" else merged
    return merged


COMPACTED = ("events", "purchases", "promo_events")


def _compact(node: Storage, table: str, closed, limit: int) -> list[str]:
    if node.scalar(_KEY, {"t": table}, what="reading the events partition key") != DAY_KEY:
        return []
    rows = node.query(_UNMERGED, {"t": table, "closed": closed, "limit": limit}, what="finding unmerged days").rows
    merged = [row[0] for row in rows]
    for partition in merged:
        if not _PARTITION_ID.match(partition):  # read from system.parts, never user input; checked anyway
            raise RuntimeError(f"unexpected partition id {partition!r}")
        node.command(f"OPTIMIZE TABLE `{table}`{node.on_cluster} PARTITION ID '{partition}' FINAL", what="merging a closed day")
    return merged
