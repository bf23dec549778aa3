"""A real ClickHouse server from the chDB already installed: one node, or a sharded cluster.

No ClickHouse server package is needed. The chDB engine is clickhouse-local, and
clickhouse-local can open ClickHouse's own HTTP and native-TCP servers. In a process of its
own (`python -m tracker.storage.server_process NODE_DIR DATA_DIR`):

1. `from chdb import _chdb` before anything else touches the engine (and one query per process:
   a second `_chdb.query` in the same process fails);
2. `chdir(NODE_DIR)`: clickhouse-local reads `./config.xml` (listen address, ports, the
   `<remote_servers>` of a cluster) and the users file it names;
3. one `_chdb.query("SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; SELECT count() FROM
   file('<fifo>', 'LineAsString')", "TabSeparated", path="<data dir>")`. The servers
   answer while the query blocks reading the fifo; a line written to the fifo ends the query
   and the process (a clean stop). The output format becomes the servers' default format and
   must be TabSeparated: clickhouse-connect's handshake fails on any other.

`_chdb.query` is chDB's private API. chDB's version is pinned in the lock files, and
`tests/storage/test_server_process.py` fails loudly when a new chDB changes the call.

What such a server can do (tried, and tested in tests/storage/): everything tracker asks of a
ClickHouse server over HTTP, several client processes at once, `Distributed` tables over the
nodes listed in `<remote_servers>`, and data that survives SIGKILL. What it cannot: Keeper,
so no `ON CLUSTER` DDL and no `Replicated*` engines; users come from the XML users file only
(no SQL-managed users), and a user with a password works only while `default` has none (the
nodes of a cluster talk to each other as `default`).

`ServerProcess` starts and stops one node; `start_cluster` starts the nodes of one cluster,
each a shard. The test fixtures (tests/support/clickhouse.py) are built on these.
"""

from __future__ import annotations

import errno
import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

# The chDB release whose private `_chdb.query` this launcher was checked against. A test fails
# while another one is installed: re-run tests/storage on it, then update this pin.
TESTED_CHDB = "4.4.0"
FIFO = "stop.fifo"
LOG = "server.log"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
# Distributed tables queue rows for other shards in this pool when an insert is not
# synchronous; chDB's default of 0 threads would never send them.
DISTRIBUTED_POOL = 4
# Every query a node runs, the parts of a cluster's queries included (`is_initial_query = 0`,
# with the initiator's `log_comment`): what tests/storage/test_shard_local.py reads to prove
# that per-visitor work stays on its shard. clickhouse-local keeps no query log by default.
QUERY_LOG = ("  <query_log><database>system</database><table>query_log</table>"
             "<flush_interval_milliseconds>7500</flush_interval_milliseconds></query_log>\n")


class ServerError(RuntimeError):
    """The server process did not come up, or refused to stop."""


@dataclass(frozen=True)
class XmlUser:
    """A user of the XML users file: its password, settings profile and grants.

    `profile` holds the settings of a profile of its own (`readonly`, budgets); `constraints`
    bounds settings the user may change per query (`{"max_execution_time": {"max": "60"}}`)."""

    name: str
    password: str
    grants: tuple[str, ...]
    profile: Mapping[str, str] = field(default_factory=dict)
    constraints: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def users_xml(users: Sequence[XmlUser], *, default_user: bool = True, default_grants: Sequence[str] = ()) -> str:
    """A ClickHouse users file: profiles, quotas and users with their grants. `default_user`:
    include a password-less `default` (what the nodes of a cluster log in to each other as, and
    what the engine's own blocking query runs as); `default_grants` narrows what it may do (all
    when empty)."""
    profiles = ["<default/>"] if default_user else []
    narrowed = "<grants>" + "".join(f"<query>{escape(g)}</query>" for g in default_grants) + "</grants>" if default_grants else ""
    entries = [
        "<default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
        f"<profile>default</profile><quota>default</quota>{narrowed}</default>"
    ] if default_user else []
    for user in users:
        settings = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in user.profile.items())
        bounds = "".join(
            f"<{k}>" + "".join(f"<{b}>{escape(str(v))}</{b}>" for b, v in limits.items()) + f"</{k}>"
            for k, limits in user.constraints.items()
        )
        profiles.append(f"<{user.name}>{settings}" + (f"<constraints>{bounds}</constraints>" if bounds else "") + f"</{user.name}>")
        grants = "".join(f"<query>{escape(g)}</query>" for g in user.grants)
        digest = hashlib.sha256(user.password.encode()).hexdigest()
        entries.append(
            f"<{user.name}><password_sha256_hex>{digest}</password_sha256_hex><networks><ip>::/0</ip></networks>"
            f"<profile>{user.name}</profile><quota>default</quota><grants>{grants}</grants></{user.name}>"
        )
    return (
        "<clickhouse>\n  <profiles>" + "".join(profiles) + "</profiles>\n"
        + ("  <quotas><default/></quotas>\n" if default_user else "")
        + "  <users>\n    " + "\n    ".join(entries) + "\n  </users>\n</clickhouse>\n"
    )


def _remote_servers(clusters: Mapping[str, Sequence[int]]) -> str:
    if not clusters:
        return ""
    parts = []
    for name, tcp_ports in clusters.items():
        shards = "".join(
            f"<shard><internal_replication>false</internal_replication><replica><host>127.0.0.1</host><port>{port}</port></replica></shard>"
            for port in tcp_ports
        )
        parts.append(f"<{name}>{shards}</{name}>")
    return "  <remote_servers>" + "".join(parts) + "</remote_servers>\n"


class ServerProcess:
    """One ClickHouse node served by chDB in a child process (see the module docstring)."""

    def __init__(self, node_dir: Path, *, http_port: int | None = None, tcp_port: int | None = None,
                 clusters: Mapping[str, Sequence[int]] | None = None, users: Sequence[XmlUser] = (), data_path: Path | None = None,
                 default_grants: Sequence[str] = (), stop_with_parent: bool = False):
        """`node_dir` holds the config, fifo and log; `data_path` the ClickHouse data (default
        `<node_dir>/data`; an embedded store's `<data>/clickhouse` can be served as it is).
        `default_grants` narrows the password-less `default` user (see `users_xml`);
        `stop_with_parent`: the node stops cleanly when the process that started it dies."""
        self.dir = Path(node_dir).resolve()
        self.data_path = Path(data_path).resolve() if data_path else self.dir / "data"
        self.http_port = http_port or free_port()
        self.tcp_port = tcp_port or free_port()
        self.clusters = dict(clusters or {})
        self.users = tuple(users)
        self.default_grants = tuple(default_grants)
        self.stop_with_parent = stop_with_parent
        self._any_ports = http_port is None and tcp_port is None
        self._proc: subprocess.Popen | None = None

    @property
    def dsn(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def dsn_for(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def write_config(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "users.xml").write_text(users_xml(self.users, default_grants=self.default_grants))
        (self.dir / "config.xml").write_text(
            "<clickhouse>\n"
            "  <listen_host>127.0.0.1</listen_host>\n"
            f"  <http_port>{self.http_port}</http_port>\n"
            f"  <tcp_port>{self.tcp_port}</tcp_port>\n"
            "  <users_config>users.xml</users_config>\n"
            f"  <background_distributed_schedule_pool_size>{DISTRIBUTED_POOL}</background_distributed_schedule_pool_size>\n"
            + QUERY_LOG
            + _remote_servers(self.clusters)
            + "</clickhouse>\n"
        )

    def start(self, timeout: float = READY_TIMEOUT) -> ServerProcess:
        """Launch the node and return once both its HTTP and TCP servers answer. A port taken
        between choosing and binding it is chosen again (a single node with chosen ports only:
        a cluster's nodes know each other's ports)."""
        for _ in range(2):
            try:
                return self._start(timeout)
            except ServerError as exc:
                if not (self._any_ports and not self.clusters and "Address already in use" in str(exc)):
                    raise
                self.http_port, self.tcp_port = free_port(), free_port()
        return self._start(timeout)

    def _start(self, timeout: float) -> ServerProcess:
        if self._proc is not None and self._proc.poll() is None:
            return self
        self.write_config()
        fifo = self.dir / FIFO
        fifo.unlink(missing_ok=True)
        os.mkfifo(fifo)
        log = open(self.dir / LOG, "wb")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tracker.storage.server_process", str(self.dir), str(self.data_path)]
                + (["--stop-with-parent"] if self.stop_with_parent else []),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir, start_new_session=True,
            )
        finally:
            log.close()
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ServerError(f"ClickHouse node in {self.dir} exited with {self._proc.returncode}: {self.log_tail()}")
            if self._http_ok() and self._tcp_ok():
                return
            time.sleep(0.05)
        self.kill()
        raise ServerError(f"ClickHouse node in {self.dir} did not answer within {timeout:.0f}s: {self.log_tail()}")

    def _http_ok(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.dsn}/ping", timeout=1) as response:
                return response.read().strip() == b"Ok."
        except (OSError, urllib.error.URLError):
            return False

    def _tcp_ok(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1):
                return True
        except OSError:
            return False

    def log_tail(self, limit: int = 2000) -> str:
        try:
            return (self.dir / LOG).read_text(errors="replace")[-limit:].strip() or "(no output)"
        except FileNotFoundError:
            return "(no log)"

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """End the blocking query through the fifo (a clean shutdown); kill after `timeout`."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            try:
                fd = os.open(self.dir / FIFO, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:  # ENXIO: nobody reads the fifo; the query is not running
                if exc.errno not in (errno.ENXIO, errno.ENOENT):
                    raise
                self.kill()
            else:
                try:
                    os.write(fd, b"stop\n")
                finally:
                    os.close(fd)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self._proc.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would (data written so far survives)."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass
class Cluster:
    """The nodes of one cluster, node i being shard i+1; `nodes[0]` takes the queries."""

    name: str
    nodes: list[ServerProcess]

    @property
    def dsn(self) -> str:
        return self.nodes[0].dsn

    @property
    def node_dsns(self) -> tuple[str, ...]:
        return tuple(node.dsn for node in self.nodes)

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def start_cluster(base_dir: Path, name: str, shards: int = 2, *, users: Sequence[XmlUser] = (),
                  timeout: float = READY_TIMEOUT) -> Cluster:
    """Start `shards` nodes under `base_dir`, each listing all of them as the shards of `name`."""
    nodes = [ServerProcess(Path(base_dir) / f"node{i + 1}", users=users) for i in range(shards)]
    layout = {name: [node.tcp_port for node in nodes]}
    started: list[ServerProcess] = []
    try:
        for node in nodes:
            node.clusters = layout
            started.append(node.start(timeout))
    except BaseException:
        for node in started:
            node.stop()
        raise
    return Cluster(name, nodes)


# --- the child process ---------------------------------------------------------------------------


def serve(node_dir: str, data_path: str, stop_with_parent: bool = False) -> int:
    """Run one node until a line arrives on its fifo. The process's only job."""
    from chdb import _chdb  # before the engine starts anywhere in this process

    os.chdir(node_dir)
    if stop_with_parent:
        _stop_when_orphaned(os.path.join(node_dir, FIFO))
    fifo = os.path.join(node_dir, FIFO).replace("\\", "\\\\").replace("'", "\\'")
    result = _chdb.query(
        f"SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; SELECT count() FROM file('{fifo}', 'LineAsString')",
        "TabSeparated",
        path=data_path,
    )
    # A failed statement (a port already taken) returns an empty result; the engine has written
    # its error to fd 2, the node's log. Only the fifo's line ends the query with a count.
    if not result.bytes().strip().isdigit():
        sys.stderr.write("ClickHouse node stopped before its fifo was written to (error above)\n")
        return 1
    return 0


def _stop_when_orphaned(fifo: str) -> None:
    """Write the fifo's stop line once the parent is gone (a supervisor killed with SIGKILL),
    so a private storage process never outlives it holding the data dir's lock."""
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        with open(fifo, "wb") as fh:
            fh.write(b"stop\n")

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1], sys.argv[2], "--stop-with-parent" in sys.argv[3:]))
