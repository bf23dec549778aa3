"""Migrations: the templates render for one node and for a cluster, and the applied schema is
the one the reports rely on."""

from __future__ import annotations

from tracker.storage.migrate import render


def test_migrations_render_for_a_cluster():
    sql = "CREATE TABLE IF NOT EXISTS ${events} $ON_CLUSTER (a UInt8, v UInt64) ENGINE = $REPLACING(v) ORDER BY a\n;\n-- distributed: events cityHash64(a)\n"
    single = render(sql, cluster="", database="db", retention_days=1, evidence_days=1)
    assert single == ["CREATE TABLE IF NOT EXISTS events  (a UInt8, v UInt64) ENGINE = ReplacingMergeTree(v) ORDER BY a"]
    clustered = render(sql, cluster="c1", database="db", retention_days=1, evidence_days=1)
    assert "events_local ON CLUSTER `c1`" in clustered[0]
    assert "ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', v)" in clustered[0]
    assert clustered[1] == "CREATE TABLE IF NOT EXISTS `events` ON CLUSTER `c1` AS `events_local` ENGINE = Distributed(`c1`, `db`, `events_local`, cityHash64(a))"


def test_path_is_stored_as_a_dictionary(storage):
    """Migration 050: reports group and match on path; LowCardinality makes that per distinct path."""
    kind = storage.scalar("SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'path'")
    assert kind == "LowCardinality(String)"
    applied = storage.scalar("SELECT count() FROM schema_migrations WHERE version = 50")
    assert applied == 1
