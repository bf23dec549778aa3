"""The chDB-served ClickHouse server (tracker/storage/server_process.py): chDB's private API it
relies on, a clean start and stop, data that survives a kill, a clear error when it cannot
start, and a cluster whose nodes see each other."""

from __future__ import annotations

import importlib.metadata
import socket
import subprocess
import sys
import time

import clickhouse_connect
import pytest

from tracker.storage.server_process import STOP_TIMEOUT, TESTED_CHDB, ServerError, ServerProcess

# Runs in a process of its own (this one already holds the embedded engine of the shared
# runtime), once per process: a second `_chdb.query` in one process fails in this chDB.
PROBE = r"""
import sys
from chdb import _chdb
print(repr(_chdb.query(sys.argv[2], "TabSeparated", path=sys.argv[1]).bytes()), flush=True)
"""


def _probe(tmp_path, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "data"), sql], capture_output=True, text=True, timeout=60)


def test_the_installed_chdb_is_the_one_the_launcher_was_checked_against():
    installed = importlib.metadata.version("chdb")
    assert installed == TESTED_CHDB, (
        f"chDB {installed} is installed, the server launcher was checked against {TESTED_CHDB}: it calls chDB's private "
        "_chdb.query; run tests/storage on this chDB, then update TESTED_CHDB in tracker/storage/server_process.py"
    )


def test_private_query_api_behaves_as_the_launcher_expects(tmp_path):
    """What `server_process.serve` relies on: `_chdb.query(sql, format, path=)` runs several
    statements, returns their output as bytes() (the SYSTEM statements print none, so a
    clean stop returns the fifo's line count), and on a failed statement returns no output and writes the error to fd 2 (the node's log). If this fails after a chDB upgrade, the
    launcher needs a look before the pin moves."""
    ok = _probe(tmp_path, "SELECT 40 + 2; SELECT 1 + 1")
    assert (ok.returncode, ok.stdout.strip()) == (0, "b'42\\n2\\n'"), ok.stderr[-2000:]
    bad = _probe(tmp_path, "SELECT 1; SELECT no_such_function()")
    assert (bad.returncode, bad.stdout.strip()) == (0, "b''") and "UNKNOWN_FUNCTION" in bad.stderr, bad.stderr[-2000:]


def test_a_node_answers_over_http_and_tcp_and_stops_cleanly(tmp_path):
    node = ServerProcess(tmp_path / "node").start()
    try:
        # The TabSeparated default format is what clickhouse-connect's handshake needs.
        client = clickhouse_connect.get_client(dsn=node.dsn, autogenerate_session_id=False, dedicated_pool=True)
        assert client.query("SELECT version()").result_rows[0][0].startswith("26.")
        client.close()
        with socket.create_connection(("127.0.0.1", node.tcp_port), timeout=2):
            pass
    finally:
        started = time.monotonic()
        code = node.stop()
    assert code == 0, node.log_tail()
    assert time.monotonic() - started < 3  # no wait for the stop timeout: the fifo ended it
    assert not node.running()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", node.http_port), timeout=1).close()


def test_data_survives_a_kill_and_a_restart_on_the_same_dir(tmp_path):
    node = ServerProcess(tmp_path / "node").start()
    client = clickhouse_connect.get_client(dsn=node.dsn, autogenerate_session_id=False, dedicated_pool=True)
    client.command("CREATE TABLE t (x UInt32) ENGINE = MergeTree ORDER BY x")
    client.command("INSERT INTO t SELECT number FROM numbers(1000)")
    client.close()
    node.kill()
    assert not node.running()
    node.start()
    try:
        client = clickhouse_connect.get_client(dsn=node.dsn, autogenerate_session_id=False, dedicated_pool=True)
        assert client.query("SELECT count(), sum(x) FROM t").result_rows == [(1000, 499500)]
        client.close()
    finally:
        node.stop()


def test_a_node_serves_a_store_the_embedded_engine_wrote(tmp_path):
    """`data_path`: the store of an embedded data dir, served as it is (once its process ended)."""
    write = ("import sys; from tracker.config import Settings; from tracker.storage.client import Storage; "
             "s = Storage(Settings.load({'data_dir': sys.argv[1]}, env={})); "
             "s.command('CREATE TABLE kept (x UInt8) ENGINE = MergeTree ORDER BY x'); s.command('INSERT INTO kept VALUES (7)'); s.close()")
    subprocess.run([sys.executable, "-c", write, str(tmp_path / "var")], check=True, timeout=60)
    node = ServerProcess(tmp_path / "node", data_path=tmp_path / "var" / "clickhouse").start()
    try:
        client = clickhouse_connect.get_client(dsn=node.dsn, database="tracker", autogenerate_session_id=False, dedicated_pool=True)
        assert client.query("SELECT x FROM kept").result_rows == [(7,)]
        client.close()
    finally:
        node.stop()


def test_a_node_that_cannot_listen_is_a_clear_error(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        node = ServerProcess(tmp_path / "node", http_port=taken.getsockname()[1])
        with pytest.raises(ServerError, match="Address already in use"):
            node.start(timeout=30)
    assert not node.running()


def test_the_cluster_nodes_are_shards_of_one_cluster(clickhouse_cluster):
    client = clickhouse_connect.get_client(dsn=clickhouse_cluster.dsn, autogenerate_session_id=False, dedicated_pool=True)
    try:
        shards = client.query("SELECT shard_num, port FROM system.clusters WHERE cluster = {c:String} ORDER BY shard_num",
                              parameters={"c": clickhouse_cluster.name}).result_rows
        assert shards == [(1, clickhouse_cluster.nodes[0].tcp_port), (2, clickhouse_cluster.nodes[1].tcp_port)]
        ports = client.query(f"SELECT tcpPort() FROM cluster('{clickhouse_cluster.name}', system.one) ORDER BY 1").result_rows
        assert sorted(p for (p,) in ports) == sorted(n.tcp_port for n in clickhouse_cluster.nodes)
    finally:
        client.close()
