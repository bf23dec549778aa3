"""Materialized views that keep a derived table in step with `events` as rows are inserted.

Two today: `purchases_mv` copies every purchase row of `events` into `purchases` (migration
083 explains why) and `promo_events_mv` its promo views and clicks into `promo_events` (091). A view is checked at every start (`ensure_views`, called by
`migrate` on every node after the migrations and `repartition`): when the source table does
not list it among its dependencies (`system.tables.dependencies_table`), it is (re)created and
its target backfilled from the source. That happens on the first start after the migration
that created the target, and after `repartition_events` rebuilt `events` (a renamed source
keeps its views: the new table has none). The backfill may repeat rows the view already
copied (an insert between the view's creation and the backfill): the target is a
ReplacingMergeTree on the source's key, read with FINAL, so they count once.

The view runs as its definer (`SQL SECURITY DEFINER`): on a served engine the ingest user
inserts into `events` but may not read it, and a view running as the inserting user would
fail that user's insert. The definer is the user that migrates, and it must exist wherever the
store is opened: the same data dir is served by `serve --workers` (whose engine runs
migrations as the XML user `tracker`) and opened in-process by a plain `serve` (as `default`),
and an insert through a view whose definer is unknown fails (UNKNOWN_USER) for every row. So a
view whose definer is not the current user is handed to it at start (`ALTER ... MODIFY SQL
SECURITY`, atomic: no insert misses the view, nothing to backfill). Clusters: each node's view reads and writes its own `_local` tables
(a visitor's rows stay on its shard); with Keeper the DDL runs ON CLUSTER and the backfill
once through the Distributed tables.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tracker.storage.client import Storage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class View:
    name: str
    source: str
    target: str
    where: str  # the source rows the target keeps (a constant condition: no user input)


VIEWS = (View("purchases_mv", "events", "purchases", "type = 'purchase'"),
         View("promo_events_mv", "events", "promo_events", "type IN ('promo_view', 'promo_click')"))

_DEPENDENTS = """
    SELECT dependencies_table FROM system.tables
    WHERE database = currentDatabase() AND name = {t:String}
"""
_DEFINER = """
    SELECT definer FROM system.tables
    WHERE database = currentDatabase() AND name = {t:String} AND definer != currentUser()
"""
_EXISTS = "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = {t:String}"


def ensure_views(storage: Storage) -> list[str]:
    """(Re)create, on this node, every view its source table does not list; return their names."""
    made = []
    for view in VIEWS:
        source, target, name = storage.local(view.source), storage.local(view.target), storage.local(view.name)
        if not storage.scalar(_EXISTS, {"t": target}, what="checking views"):
            continue  # its migration has not run here (a node catching up migrates first)
        if name in (storage.scalar(_DEPENDENTS, {"t": source}, what="checking views") or []):
            if (other := storage.scalar(_DEFINER, {"t": name}, what="checking views")) is not None:
                storage.command(f"ALTER TABLE `{name}`{storage.on_cluster} MODIFY SQL SECURITY DEFINER DEFINER = CURRENT_USER",
                                what=f"handing view {view.name} to this user")
                log.info("view %s ran as %r, now as this store's user", view.name, other)
            continue
        on_cluster = storage.on_cluster
        storage.command(f"DROP VIEW IF EXISTS `{name}`{on_cluster} SYNC", what=f"creating view {view.name}")
        storage.command(
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS `{name}`{on_cluster} TO `{target}` "
            f"DEFINER = CURRENT_USER SQL SECURITY DEFINER "
            f"AS SELECT * FROM `{source}` WHERE {view.where}",
            what=f"creating view {view.name}",
        )
        # With Keeper, once for the cluster through the Distributed tables; else this node's rows.
        into, out_of = (view.target, view.source) if storage.replicated else (target, source)
        storage.command(f"INSERT INTO `{into}` SELECT * FROM `{out_of}` WHERE {view.where}",
                        what=f"backfilling {view.target}", settings={"max_partitions_per_insert_block": 0})
        log.info("view %s created and %s backfilled", view.name, view.target)
        made.append(view.name)
    return made
