"""The password-less `default` user of a chDB-served node, narrowed as `tracker serve --workers`
narrows it (tracker/cli/_workers.py): what a local user who connects to the storage port
without a password can and cannot do, tried over HTTP against a real node (docs/security.md,
"The storage process's `default` user"). Every refusal here is ClickHouse's own
ACCESS_DENIED (code 497): these tests fail if the narrowing is dropped."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest

from tracker.cli._workers import DEFAULT_GRANTS
from tracker.storage.server_process import ServerProcess, XmlUser

PRIVATE = XmlUser("tracker", "private-pw", ("GRANT ALL ON *.* WITH GRANT OPTION",))
ACCESS_DENIED = "Code: 497."


def http(node: ServerProcess, sql: str, user: str = "default", password: str = "") -> tuple[int, str]:
    """One query over the node's HTTP interface: (status, body)."""
    request = urllib.request.Request(f"{node.dsn}/?" + urllib.parse.urlencode({"query": sql}), method="POST")
    request.add_header("X-ClickHouse-User", user)
    if password:
        request.add_header("X-ClickHouse-Key", password)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def private(node: ServerProcess, sql: str) -> str:
    status, body = http(node, sql, PRIVATE.name, PRIVATE.password)
    assert status == 200, body
    return body


def assert_denied(node: ServerProcess, sql: str) -> str:
    status, body = http(node, sql)
    assert status != 200 and ACCESS_DENIED in body and "ACCESS_DENIED" in body, f"`default` may run {sql!r}: {status} {body[:300]}"
    return body


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A node laid out as the workers' private storage process: the private user, and
    `default` narrowed to what the engine's own blocking query needs."""
    server = ServerProcess(tmp_path_factory.mktemp("narrowed"), users=[PRIVATE], default_grants=DEFAULT_GRANTS).start()
    private(server, "CREATE DATABASE IF NOT EXISTS tracker")
    private(server, "CREATE TABLE IF NOT EXISTS tracker.events (site String, n UInt32) ENGINE = MergeTree ORDER BY site")
    private(server, "INSERT INTO tracker.events VALUES ('demo', 42)")
    yield server
    server.stop()


def test_default_logs_in_without_a_password_but_sees_no_table(node):
    assert http(node, "SELECT currentUser()") == (200, "default\n")
    assert http(node, "SELECT name FROM system.tables WHERE database = 'tracker'") == (200, "")
    assert_denied(node, "SELECT * FROM tracker.events")


def test_default_cannot_create_or_change_tables(node):
    assert_denied(node, "CREATE TABLE tracker.mine (x UInt8) ENGINE = MergeTree ORDER BY x")
    assert_denied(node, "CREATE TABLE default.mine (x UInt8) ENGINE = Memory")
    assert_denied(node, "INSERT INTO tracker.events VALUES ('evil', 1)")
    assert_denied(node, "DROP TABLE tracker.events")
    assert_denied(node, "CREATE DATABASE mine")
    assert private(node, "SELECT count() FROM tracker.events") == "1\n"


def test_default_cannot_write_a_file(node):
    target = node.dir / "written-by-default.txt"
    assert_denied(node, f"INSERT INTO FUNCTION file('{target}', 'LineAsString') SELECT 'x'")
    assert not target.exists()


def test_default_cannot_reach_other_servers_or_run_programs(node):
    assert_denied(node, f"SELECT * FROM url('{node.dsn}/ping', 'LineAsString')")
    assert_denied(node, f"SELECT * FROM remote('127.0.0.1:{node.tcp_port}', system.one)")
    assert_denied(node, "SELECT * FROM executable('id', 'LineAsString', 'x String')")
    assert_denied(node, "SELECT * FROM system.users")
    assert_denied(node, "SELECT * FROM system.processes")


def test_the_private_user_keeps_every_right(node):
    assert private(node, "SELECT currentUser()") == "tracker\n"
    assert private(node, "SELECT site, n FROM tracker.events") == "demo\t42\n"
