"""The password-less `default` user of a chDB-served node, narrowed as `tracker serve --workers`
narrows it (`ServerProcess(narrow_default=True)`, tracker/storage/server_users.py): what a local
user who connects to the storage port without a password can and cannot do, tried over HTTP
against real nodes (docs/security.md, "The storage process's `default` user").

The narrowing has two layers, and each is tried on a node of its own with the other one lifted,
so every test here fails if its layer is dropped: the grants (refusals are ACCESS_DENIED, 497)
and the quota that the engine's own blocking query uses up (QUOTA_EXCEEDED, 201). The node as
production lays it out has both."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.support.clickhouse import settings_for
from tracker.storage.client import Storage
from tracker.storage.migrate import migrate
from tracker.storage.server_process import ServerProcess, XmlUser, start_cluster
from tracker.storage.server_users import STOP_TABLE

PRIVATE = XmlUser("tracker", "private-pw", ("GRANT ALL ON *.* WITH GRANT OPTION",))
ACCESS_DENIED, QUOTA_EXCEEDED = "ACCESS_DENIED", "QUOTA_EXCEEDED"


def http(node: ServerProcess, sql: str, user: str = "default", password: str = "") -> tuple[int, str]:
    """One query over the node's HTTP interface: (status, body)."""
    request = urllib.request.Request(f"{node.dsn}/?" + urllib.parse.urlencode({"query": sql}), method="POST")
    request.add_header("X-ClickHouse-User", user)
    if password:
        request.add_header("X-ClickHouse-Key", password)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def private(node: ServerProcess, sql: str) -> str:
    status, body = http(node, sql, PRIVATE.name, PRIVATE.password)
    assert status == 200, body
    return body


def refused(node: ServerProcess, sql: str, *, why: str) -> None:
    status, body = http(node, sql)
    code = {ACCESS_DENIED: "Code: 497.", QUOTA_EXCEEDED: "Code: 201."}[why]
    assert status != 200 and code in body and why in body, f"`default` may run {sql!r}: {status} {body[:300]}"


class GrantsOnly(ServerProcess):
    """The narrowed grants with `default`'s quota lifted (the layer under test alone)."""

    def write_config(self) -> None:
        super().write_config()
        users = self.dir / "users.xml"
        narrowed = users.read_text()
        assert "<quota>engine_only</quota>" in narrowed
        users.write_text(narrowed.replace("<quota>engine_only</quota>", "<quota>default</quota>"))


class QuotaOnly(ServerProcess):
    """The quota with `default`'s grants lifted (every right, as an un-narrowed node has)."""

    def write_config(self) -> None:
        super().write_config()
        users = self.dir / "users.xml"
        narrowed = users.read_text()
        assert f"<query>GRANT SELECT ON {STOP_TABLE}</query>" in narrowed
        users.write_text(narrowed.replace(f"<query>GRANT SELECT ON {STOP_TABLE}</query>", "<query>GRANT ALL ON *.*</query>"))


def start(kind: type[ServerProcess], directory) -> ServerProcess:
    node = kind(directory, users=[PRIVATE], narrow_default=True).start()
    (node.data_path / "secret.txt").write_text("in the data dir\n")
    return node


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """The node as the workers' private storage process lays it out, tracker's schema in it."""
    server = start(ServerProcess, tmp_path_factory.mktemp("narrowed"))
    storage = Storage(settings_for(tmp_path_factory.mktemp("private"), dsn=server.dsn_for(PRIVATE.name, PRIVATE.password)))
    migrate(storage)
    storage.close()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def grants_only(tmp_path_factory):
    server = start(GrantsOnly, tmp_path_factory.mktemp("grants-only"))
    private(server, "CREATE DATABASE tracker")
    private(server, "CREATE TABLE tracker.events (site String) ENGINE = MergeTree ORDER BY site")
    yield server
    server.stop()


def test_the_grants_refuse_files_other_servers_programs_tables_and_ddl(grants_only):
    node = grants_only
    assert http(node, "SELECT currentUser()") == (200, "default\n")
    for path in ("/etc/passwd", node.dir / "users.xml", node.data_path / "secret.txt", "users.xml"):
        refused(node, f"SELECT * FROM file('{path}', 'RawBLOB')", why=ACCESS_DENIED)
    target = node.dir / "written-by-default.txt"
    refused(node, f"INSERT INTO FUNCTION file('{target}', 'LineAsString') SELECT 'x'", why=ACCESS_DENIED)
    assert not target.exists()
    refused(node, f"SELECT * FROM url('{node.dsn}/ping', 'LineAsString')", why=ACCESS_DENIED)
    refused(node, f"SELECT * FROM s3('http://127.0.0.1:{node.http_port}/bucket/key.txt', 'LineAsString')", why=ACCESS_DENIED)
    refused(node, f"SELECT * FROM remote('127.0.0.1:{node.tcp_port}', system.one)", why=ACCESS_DENIED)
    refused(node, "SELECT * FROM executable('id', 'LineAsString', 'x String')", why=ACCESS_DENIED)
    refused(node, "SELECT * FROM tracker.events", why=ACCESS_DENIED)
    refused(node, "INSERT INTO tracker.events VALUES ('x')", why=ACCESS_DENIED)
    refused(node, "CREATE TABLE tracker.mine (x UInt8) ENGINE = MergeTree ORDER BY x", why=ACCESS_DENIED)
    refused(node, "CREATE TEMPORARY TABLE mine (x UInt8)", why=ACCESS_DENIED)
    refused(node, f"CREATE TABLE {STOP_TABLE}2 (line String) ENGINE = File(RawBLOB, '/etc/passwd')", why=ACCESS_DENIED)
    refused(node, "SELECT * FROM system.users", why=ACCESS_DENIED)
    assert http(node, "SELECT name FROM system.tables WHERE database = 'tracker'") == (200, "")


def test_the_quota_refuses_everything_the_engine_did_not_use_even_with_every_grant(tmp_path):
    node = start(QuotaOnly, tmp_path / "quota-only")
    try:
        for sql in ("SELECT * FROM file('/etc/passwd', 'RawBLOB')", "SELECT count() FROM numbers(10)", "SYSTEM STOP LISTEN HTTP",
                    "CREATE TABLE default.mine (x UInt8) ENGINE = Memory"):
            refused(node, sql, why=QUOTA_EXCEEDED)
        assert private(node, "SELECT count() FROM system.tables WHERE database = 'default'") == "0\n"
    finally:
        node.stop()


def test_as_deployed_default_can_neither_read_nor_write_nor_stop_the_servers(node):
    assert http(node, "SELECT currentUser()") == (200, "default\n")  # a constant: no row read, no quota used
    for sql in (f"SELECT * FROM file('{node.data_path / 'secret.txt'}', 'RawBLOB')", "SELECT * FROM file('/etc/passwd', 'RawBLOB')",
                f"INSERT INTO FUNCTION file('{node.dir / 'written.txt'}', 'LineAsString') SELECT 'x'",
                "SELECT count() FROM tracker.events", "CREATE TABLE tracker.mine (x UInt8) ENGINE = MergeTree ORDER BY x",
                "SYSTEM STOP LISTEN HTTP", "SYSTEM STOP LISTEN TCP", f"SELECT * FROM {STOP_TABLE}",
                "SELECT * FROM system.users", "SELECT name FROM system.tables", "SHOW DATABASES"):
        status, body = http(node, sql)
        assert status != 200 and ("Code: 201." in body or "Code: 497." in body), f"`default` may run {sql!r}: {status} {body[:300]}"
    assert not (node.dir / "written.txt").exists()
    assert private(node, "SELECT count() FROM tracker.events") == "0\n"
    assert private(node, "SELECT count() FROM system.tables WHERE database = 'tracker' AND name = 'mine'") == "0\n"


def test_as_deployed_the_private_user_keeps_every_right_and_the_node_stops_cleanly(tmp_path):
    server = start(ServerProcess, tmp_path / "node")
    storage = Storage(settings_for(tmp_path / "private", dsn=server.dsn_for(PRIVATE.name, PRIVATE.password)))
    try:
        assert migrate(storage)
        storage.command("INSERT INTO events (site, event_id, ts, vid, path) VALUES ('demo', 'e1', now64(3), 'v1', '/')")
        assert storage.scalar("SELECT count() FROM events WHERE site = 'demo'") == 1
        assert http(server, f"SELECT * FROM {STOP_TABLE}")[0] != 200  # nobody but the engine reads the stop line
    finally:
        storage.close()
        started = time.monotonic()
        assert server.stop() == 0  # the fifo's line, not a kill after the timeout
    assert time.monotonic() - started < 5, server.log_tail()


def test_a_narrowed_cluster_runs_tracker_as_its_user_through_the_interserver_secret(tmp_path):
    """With the secret, each shard runs its part of a distributed query as the user who sent it,
    so `default` can be narrowed on every node; a node told another secret is refused."""
    cluster = start_cluster(tmp_path / "cluster", "narrowed", users=[PRIVATE], narrow_default=True)
    dsns = [node.dsn_for(PRIVATE.name, PRIVATE.password) for node in cluster.nodes]
    storage = Storage(settings_for(tmp_path / "private", dsn=dsns[0], cluster="narrowed", cluster_nodes=",".join(dsns)))
    try:
        migrate(storage)
        storage.command("INSERT INTO events (site, event_id, ts, vid, path) SELECT 'demo', toString(number), now64(3), toString(number), '/'"
                        " FROM numbers(20) SETTINGS distributed_foreground_insert = 1")
        assert storage.scalar("SELECT count() FROM events WHERE site = 'demo'") == 20
        on_shards = [int(private(node, "SELECT count() FROM tracker.events_local")) for node in cluster.nodes]
        assert sum(on_shards) == 20 and all(on_shards), on_shards
        refused(cluster.nodes[1], "SELECT * FROM file('/etc/passwd', 'RawBLOB')", why=ACCESS_DENIED)
        # Without a secret a node's part runs as `default`, and the narrowed `default` may do nothing.
        cluster.stop()
        for node in cluster.nodes:
            node.cluster_secret = ""
            node.start()
        status, body = http(cluster.nodes[0], "SELECT count() FROM tracker.events", PRIVATE.name, PRIVATE.password)
        assert status != 200 and ("Code: 497." in body or "Code: 201." in body) and "Received from 127.0.0.1" in body, body[:300]
    finally:
        storage.close()
        cluster.stop()
