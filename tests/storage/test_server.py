"""The server path for real: tracker on a ClickHouse server node over HTTP, logged in as the
least-privilege users (`server_runtime`). Schema and migrations, concurrent queries on one
client, collect -> spool -> flush with deduplication tokens, `tracker import`, export and
erase, retention. Reports and trust on a server: tests/storage/test_same_figures.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import uuid

import orjson
import pytest

from tests.conftest import BROWSER_UA, flush, journey_rows
from tests.support.clickhouse import api, site_on, role_settings, settings_for
from tracker.ingest.flusher import Flusher
from tracker.ingest.spool import Spool
from tracker.storage.client import Storage
from tracker.storage.migrate import RETENTION, apply_retention, load_migrations, migrate


def events_of(storage, site: str, final: bool = False) -> int:
    return storage.scalar(f"SELECT count() FROM events{' FINAL' if final else ''} WHERE site = {{s:String}}", {"s": site})


def test_schema_is_migrated_once_and_again_is_a_no_op(server_runtime):
    storage = server_runtime.storage
    versions = [v for (v,) in storage.query("SELECT version FROM schema_migrations ORDER BY version").rows]
    assert versions == [m.version for m in load_migrations()]
    tables = {name for (name,) in storage.query("SELECT name FROM system.tables WHERE database = currentDatabase()").rows}
    assert {"events", "sites", "tokens", "promos", "visitor_signals", "trust_coverage", "trust_sets", "erasures", "audit_log"} <= tables
    assert storage.scalar("SELECT type FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'path'") == \
        "LowCardinality(String)"
    assert migrate(storage) == []


def test_retention_follows_the_settings(clickhouse_node, tmp_path):
    """A database of its own: the TTL of every expiring table is set at migration and changed
    when the settings change."""
    database = f"retention_{uuid.uuid4().hex[:6]}"
    first = Storage(settings_for(tmp_path, dsn=clickhouse_node.dsn, database=database))
    migrate(first)
    ttl = {t: first.scalar("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}", {"t": t})
           for t in RETENTION}
    assert "toIntervalDay(760)" in ttl["events"] and "toIntervalDay(90)" in ttl["visitor_signals"] and "toIntervalDay(400)" in ttl["audit_log"]
    first.close()
    shorter = Storage(settings_for(tmp_path, dsn=clickhouse_node.dsn, database=database, retention_days=30, evidence_retention_days=7))
    apply_retention(shorter)
    engine = shorter.scalar("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'events'")
    signals = shorter.scalar("SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = 'visitor_signals'")
    assert "toIntervalDay(30)" in engine and "toIntervalDay(7)" in signals
    shorter.command(f"DROP DATABASE `{database}`")
    shorter.close()


def test_threads_run_queries_at_once_on_one_client(server_runtime):
    """A server session admits one query at a time; tracker's clients keep none, so the import's
    two chunks in flight, the flusher and reports can share one. (With clickhouse-connect's
    automatic session id this failed: 'Attempt to execute concurrent queries within the same
    session'.)"""
    storage, site = server_runtime.storage, site_on(server_runtime)
    start = threading.Barrier(6)
    failures: list[BaseException] = []

    def work(i: int) -> None:
        try:
            start.wait(10)
            if i % 2:
                storage.insert_jsonl("events", journey_rows(site, {f"c{i}": [("pageview", "/", i)]}, runtime=server_runtime), plain_dictionaries=True)
            else:
                assert storage.scalar("SELECT sleep(0.3) + 1") == 1
        except BaseException as exc:  # reported below, with the others
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []
    assert events_of(storage, site) == 3


def test_insert_select_sends_its_rows_as_the_request_body(server_runtime):
    storage = server_runtime.storage
    table = f"reshaped_{uuid.uuid4().hex[:6]}"
    storage.command(f"CREATE TABLE {table} (x UInt32, s String) ENGINE = MergeTree ORDER BY x")
    try:
        storage.insert_select(f"INSERT INTO {table} SELECT x + {{k:UInt32}}, upper(s) FROM $INPUT", b'{"x": 1, "s": "a"}\n{"x": 2, "s": "b\'"}\n',
                              structure="x UInt32, s String", fmt="JSONEachRow", params={"k": 40})
        assert storage.query(f"SELECT x, s FROM {table} ORDER BY x").rows == [(41, "A"), (42, "B'")]
        with pytest.raises(ValueError):
            storage.insert_select(f"INSERT INTO {table} SELECT 1", b"rows", structure="x UInt32")
    finally:
        storage.command(f"DROP TABLE {table}")


def test_collect_spool_flush_stores_the_events(server_runtime):
    site = site_on(server_runtime)
    events = [{"type": "pageview", "id": uuid.uuid4().hex, "url": f"https://shop.example/p{i}"} for i in range(25)]
    with api(server_runtime) as (client, _):
        response = client.post("/api/collect", content=orjson.dumps({"site": site, "events": events}),
                               headers={"Content-Type": "text/plain", "User-Agent": BROWSER_UA, "Origin": "https://shop.example"})
        assert response.status_code == 202 and response.json()["accepted"] == 25, response.text
        flush(server_runtime)
    assert events_of(server_runtime.storage, site) == 25


def replay(storage, tmp_path, rows: list[bytes]) -> None:
    """Spool `rows`, flush them, put the flushed segment back as a crash before its deletion
    would leave it, and flush again."""
    spool = Spool(tmp_path / "spool", segment_bytes=1 << 20, max_bytes=1 << 30, fsync=True, seal_after=60.0)
    flusher = Flusher(storage, spool, interval=60, max_bytes=1 << 20)
    try:
        for row in rows:
            spool.append_sync(row)
        spool.request_seal()
        [segment] = spool.ready_segments()
        saved = tmp_path / "saved"
        shutil.copy(segment, saved)
        assert flusher.flush_once()
        assert not segment.exists()
        shutil.copy(saved, segment)  # the same segment, the same name: the same token
        assert flusher.flush_once()
    finally:
        spool.close()


def test_a_replayed_segment_is_dropped_by_its_token_and_a_new_insert_is_not(server_runtime, tmp_path):
    storage, site = server_runtime.storage, site_on(server_runtime)
    rows = [journey_rows(site, {f"r{i}": [("pageview", "/", i)]}, runtime=server_runtime) for i in range(5)]
    replay(storage, tmp_path / "a", rows)
    assert events_of(storage, site) == 5  # the replay was deduplicated by ClickHouse
    # The same event again under a new token, received earlier (so its copy is the one FINAL
    # keeps, whether or not ClickHouse has merged the two copies yet: raw counts depend on merges).
    copy = orjson.loads(rows[0])
    copy.update(path="/copy", received_at=copy["received_at"] - 1)
    storage.insert_jsonl("events", orjson.dumps(copy), dedup_token="another-token")
    assert events_of(storage, site, final=True) == 5  # FINAL still counts the event once
    kept = storage.scalar("SELECT path FROM events FINAL WHERE site = {s:String} AND event_id = {e:String}", {"s": site, "e": copy["event_id"]})
    assert kept == "/copy"  # a new token is a new insert


def test_tracker_import_sends_chunks_in_flight_to_a_server(clickhouse_node, server_runtime, tmp_path):
    """The CLI on an http DSN, as the ingest and reports users: several chunks, two in flight."""
    site = site_on(server_runtime)
    lines = [orjson.dumps({"type": "pageview", "id": f"imp-{i}", "vid": f"iv{i % 700}", "ts": 1_780_000_000_000 + i * 1000,
                           "url": f"https://shop.example/p/{i % 97}?utm_source=news", "ua": BROWSER_UA, "ip": f"198.51.{i % 200}.7"})
             for i in range(16_000)]
    lines[123] = b'{"type": "pageview"}'
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert path.stat().st_size > 3 * 1024 * 1024  # chunks start at 1 MiB: several of them
    env = {**os.environ, "TRACKER_DSN": clickhouse_node.dsn, **{f"TRACKER_{k.upper()}": v for k, v in role_settings().items()}}
    out = subprocess.run([sys.executable, "-m", "tracker", "import", str(path), "--site", site, "--data", str(tmp_path / "data")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "imported 15,999 events" in out.stdout and "line 124:" in out.stderr
    assert events_of(server_runtime.storage, site) == 15_999


def test_export_and_erase_on_a_server(server_runtime):
    storage, site = server_runtime.storage, site_on(server_runtime)
    vid, other = f"gone-{uuid.uuid4().hex[:8]}", f"kept-{uuid.uuid4().hex[:8]}"
    storage.insert_jsonl("events", journey_rows(site, {vid: [("pageview", "/", 0), ("purchase", ("o1", 20.0), 60)],
                                                       other: [("pageview", "/", 5)]}, runtime=server_runtime))
    with api(server_runtime) as (client, headers):
        exported = client.get(f"/api/privacy/visitors/{vid}", headers=headers)
        assert exported.status_code == 200, exported.text
        assert exported.json()["counts"]["events"] == 2
        erased = client.delete(f"/api/privacy/visitors/{vid}", headers=headers)
        assert erased.status_code == 200, erased.text  # it was a 503 while writing the erasure ledger
        assert erased.json()["erased"]["events"] == 2
        assert client.get(f"/api/privacy/visitors/{vid}", headers=headers).json()["counts"]["events"] == 0
        ledger = client.get("/api/privacy/erasures", headers=headers).json()
        assert any(row["counts"].get("events") == 2 for row in ledger["rows"])
    assert events_of(storage, site) == 1


def test_wrong_credentials_are_a_storage_error_not_a_stack(clickhouse_node, tmp_path):
    from tracker.errors import StorageError

    storage = Storage(settings_for(tmp_path, dsn=clickhouse_node.dsn, reports_user="tracker_reports", reports_password="wrong"))
    with pytest.raises(StorageError, match="storage unavailable"):
        storage.query("SELECT 1")
    assert not storage.ping()
    storage.close()
