"""TRACKER_CLUSTER: the schema on each node, rows sharded by visitor, deduplication tokens
through Distributed inserts, erase and export on every shard, the trust sets' partitions, and
the ON CLUSTER rendering for clusters with Keeper (not runnable here: no Keeper)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from tests.conftest import BOT_UA, journey_rows
from tests.support.clickhouse import CLUSTER, api, site_on
from tracker.config import Settings
from tracker.reports.params import parse_scope
from tracker.reports.trust.live import LiveTrust
from tracker.storage import access
from tracker.storage.migrate import load_migrations, render

TABLES = ("events", "sites", "tokens", "dead_letters", "promos", "visitor_signals", "trust_coverage", "audit_log", "token_usage",
          "erasures", "trust_sets", "purchases", "promo_events")
BY_VISITOR = ("events", "visitor_signals", "trust_sets", "purchases", "promo_events")


def all_statements(cluster: str, replicated: bool) -> list[str]:
    return [s for m in load_migrations()
            for s in render(m.sql, cluster=cluster, database="db", retention_days=760, evidence_days=90, replicated=replicated)]


def test_with_keeper_every_statement_runs_on_cluster_with_replicated_engines():
    statements = all_statements("prod", replicated=True)
    assert statements and all(" ON CLUSTER `prod`" in s for s in statements)
    engines = re.findall(r"ENGINE = (\w+)", "\n".join(statements))
    assert set(engines) <= {"ReplicatedReplacingMergeTree", "ReplicatedMergeTree", "Distributed"}
    for table in TABLES:
        create = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS {table}_local ON CLUSTER"))
        assert "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'" in create
        distributed = next(s for s in statements if s.startswith(f"CREATE TABLE IF NOT EXISTS `{table}` ON CLUSTER"))
        assert f"AS `{table}_local` ENGINE = Distributed(`prod`, `db`, `{table}_local`, " in distributed
        if table in BY_VISITOR:
            assert distributed.endswith("cityHash64(vid))")


def test_with_listed_nodes_the_same_statements_are_plain():
    statements = all_statements("prod", replicated=False)
    assert not any("ON CLUSTER" in s or "Replicated" in s for s in statements)
    assert len(statements) == len(all_statements("prod", replicated=True))


def test_each_node_has_every_local_table_its_distributed_table_and_every_migration(cluster_runtime):
    for node in cluster_runtime.storage.nodes():
        engines = dict(node.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()").rows)
        for table in TABLES:
            assert "MergeTree" in engines[f"{table}_local"] and engines[table] == "Distributed", table
        versions = [v for (v,) in node.query("SELECT version FROM schema_migrations ORDER BY version").rows]
        assert versions == [m.version for m in load_migrations()]


def per_shard(runtime, sql: str, params: dict) -> list:
    return [node.scalar(sql, params) for node in runtime.storage.nodes()]


def test_a_visitors_events_live_on_one_shard(cluster_runtime):
    site = site_on(cluster_runtime)
    spec = {f"v{i}": [("pageview", "/", i), ("pageview", "/c/shoes", i + 30), ("purchase", (f"o{i}", 5.0), i + 60)] for i in range(60)}
    # The import's insert (INSERT ... SELECT ... FROM input()) into the Distributed table.
    cluster_runtime.storage.insert_jsonl("events", journey_rows(site, spec, runtime=cluster_runtime), plain_dictionaries=True)
    split = cluster_runtime.storage.query(
        "SELECT vid, uniqExact(_shard_num) AS shards, count() FROM events WHERE site = {s:String} GROUP BY vid", {"s": site}).rows
    assert len(split) == 60 and all(shards == 1 and n == 3 for _, shards, n in split)
    visitors = per_shard(cluster_runtime, "SELECT uniqExact(vid) FROM events_local WHERE site = {s:String}", {"s": site})
    assert sum(visitors) == 60 and min(visitors) >= 15
    # Each node's view copies its own purchase rows: a visitor's purchases sit beside its events.
    bought = "SELECT vid, order_id FROM {t} WHERE site = {{s:String}} AND type = 'purchase' ORDER BY vid"
    for node in cluster_runtime.storage.nodes():
        assert node.query(bought.format(t="purchases_local"), {"s": site}).rows == node.query(bought.format(t="events_local"), {"s": site}).rows
    assert cluster_runtime.storage.scalar("SELECT count() FROM purchases WHERE site = {s:String}", {"s": site}) == 60


def test_deduplication_tokens_hold_through_the_distributed_table(cluster_runtime):
    storage, site = cluster_runtime.storage, site_on(cluster_runtime)
    rows = journey_rows(site, {f"d{i}": [("pageview", "/", i)] for i in range(40)}, runtime=cluster_runtime)
    storage.insert_jsonl("events", rows, dedup_token="segment-1")
    storage.insert_jsonl("events", rows, dedup_token="segment-1")  # a replay: dropped on every shard
    count = "SELECT count() FROM events_local WHERE site = {s:String}"
    first = per_shard(cluster_runtime, count, {"s": site})
    assert sum(first) == 40 and min(first) > 0
    storage.insert_jsonl("events", rows, dedup_token="segment-2")
    assert per_shard(cluster_runtime, count, {"s": site}) == [2 * n for n in first]
    assert storage.scalar("SELECT count() FROM events FINAL WHERE site = {s:String}", {"s": site}) == 40


def test_export_and_erase_reach_every_shard(cluster_runtime):
    """The visitor's rows are put on both shards by hand (ids of one visitor never split on
    their own, but derived tables and a resharded cluster can hold them anywhere)."""
    site = site_on(cluster_runtime)
    vid = f"split-{uuid.uuid4().hex[:8]}"
    for i, node in enumerate(cluster_runtime.storage.nodes()):
        node.insert_jsonl("events_local", journey_rows(site, {vid: [("pageview", f"/n{i}", i)], f"other{i}": [("pageview", "/", i)]},
                                                       runtime=cluster_runtime))
        node.insert_rows("dead_letters_local", ("at", "segment", "error", "vid", "row"),
                         [(datetime.now(UTC), "", "test", vid, f'{{"site":"{site}","vid":"{vid}"}}')])
    with api(cluster_runtime) as (client, headers):
        exported = client.get(f"/api/privacy/visitors/{vid}", headers=headers).json()
        assert exported["counts"]["events"] == 2 and exported["counts"]["dead_letters"] == 2
        assert sorted(row["path"] for row in exported["tables"]["events"]) == ["/n0", "/n1"]
        erased = client.delete(f"/api/privacy/visitors/{vid}", headers=headers)
        assert erased.status_code == 200, erased.text
        assert erased.json()["erased"]["events"] == 2 and erased.json()["erased"]["dead_letters"] == 2
    for table in ("events_local", "dead_letters_local"):
        assert per_shard(cluster_runtime, f"SELECT count() FROM {table} WHERE vid = {{v:String}}", {"v": vid}) == [0, 0]
    assert sum(per_shard(cluster_runtime, "SELECT count() FROM events_local WHERE site = {s:String}", {"s": site})) == 2


def test_untrusted_sets_are_written_to_the_shards_of_their_visitors_and_dropped_on_every_node(cluster_runtime):
    site = site_on(cluster_runtime)
    bots = {f"bot{i}": [("pageview", "/", i, {"ua": BOT_UA})] for i in range(30)}
    cluster_runtime.storage.insert_jsonl("events", journey_rows(site, {**bots, "human": [("pageview", "/", 0)]}, runtime=cluster_runtime))
    sets = LiveTrust(cluster_runtime.storage, cluster_runtime.trust)
    scope = parse_scope({"site": site, "from": "2026-03-01", "to": "2026-03-03"})
    set_id = sets.verdicts(site, scope.start_ts, scope.end_ts).set_id
    where = {"s": site, "id": set_id}
    on_shards = per_shard(cluster_runtime, "SELECT count() FROM trust_sets_local WHERE site = {s:String} AND set_id = {id:UInt64}", where)
    assert sum(on_shards) == 30 and min(on_shards) > 0
    misplaced = per_shard(cluster_runtime, "SELECT count() FROM trust_sets_local WHERE set_id = {id:UInt64} AND vid NOT IN "
                          "(SELECT vid FROM events_local WHERE site = {s:String})", where)
    assert misplaced == [0, 0]  # each visitor's set row sits beside its events: the set is shard-local
    sets.close()
    assert per_shard(cluster_runtime, "SELECT count() FROM trust_sets_local WHERE set_id = {id:UInt64}", where) == [0, 0]


def test_the_grants_name_the_local_tables_and_run_on_cluster():
    settings = Settings.load({"cluster": CLUSTER}, env={})
    sql = access.statements(settings, {"ingest": "a", "reports": "b"})
    assert f"GRANT ON CLUSTER `{CLUSTER}` INSERT ON `tracker`.`events_local` TO `tracker_ingest`" in sql
    listed = access.statements(Settings.load({"cluster": CLUSTER, "cluster_nodes": "http://a,http://b"}, env={}), {"ingest": "a", "reports": "b"})
    assert not any("ON CLUSTER" in s for s in listed)


def test_per_visitor_tables_share_one_sharding_key_on_every_node(cluster_runtime):
    for node in cluster_runtime.storage.nodes():
        for table in BY_VISITOR:
            engine = node.scalar("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}", {"t": table})
            assert engine == f"Distributed('{CLUSTER}', 'tracker', '{table}_local', cityHash64(vid))", engine
