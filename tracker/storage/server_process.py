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
   must be TabSeparated: clickhouse-connect's handshake fails on any other. A node whose
   password-less `default` is narrowed (`narrow_default`, what `tracker serve --workers` runs)
   reads the fifo through a `File` table made beforehand instead (`SELECT count() FROM
   _server_stop.fifo`): that `default` may not use `file()` (tracker/storage/server_users.py).

`_chdb.query` is chDB's private API. chDB's version is pinned in the lock files, and
`tests/storage/test_server_process.py` fails loudly when a new chDB changes the call.

What such a server can do (tried, and tested in tests/storage/): everything tracker asks of a
ClickHouse server over HTTP, several client processes at once, `Distributed` tables over the
nodes listed in `<remote_servers>`, and data that survives SIGKILL. What it cannot: Keeper,
so no `ON CLUSTER` DDL and no `Replicated*` engines; users come from the XML users file only
(no SQL-managed users, read once at start), and the engine runs its own queries as `default`
with no password, so `default` stays password-less (the nodes of a cluster also talk to each
other as it); it can be narrowed (tracker/storage/server_users.py).

`ServerProcess` starts and stops one node; `start_cluster` starts the nodes of one cluster,
each a shard. The test fixtures (tests/support/clickhouse.py) are built on these.
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from tracker.storage.server_users import STOP_DATABASE, STOP_TABLE, XmlUser, users_xml

__all__ = ["Cluster", "ServerError", "ServerProcess", "XmlUser", "free_port", "start_cluster", "users_xml"]

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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _remote_servers(clusters: Mapping[str, Sequence[int]], secret: str = "") -> str:
    if not clusters:
        return ""
    parts = []
    for name, tcp_ports in clusters.items():
        shards = "".join(
            f"<shard><internal_replication>false</internal_replication><replica><host>127.0.0.1</host><port>{port}</port></replica></shard>"
            for port in tcp_ports
        )
        parts.append(f"<{name}>" + (f"<secret>{escape(secret)}</secret>" if secret else "") + f"{shards}</{name}>")
    return "  <remote_servers>" + "".join(parts) + "</remote_servers>\n"


class ServerProcess:
    """One ClickHouse node served by chDB in a child process (see the module docstring)."""

    def __init__(self, node_dir: Path, *, http_port: int | None = None, tcp_port: int | None = None,
                 clusters: Mapping[str, Sequence[int]] | None = None, users: Sequence[XmlUser] = (), data_path: Path | None = None,
                 narrow_default: bool = False, stop_with_parent: bool = False, cluster_secret: str = ""):
        """`node_dir` holds the config, fifo and log; `data_path` the ClickHouse data (default
        `<node_dir>/data`; an embedded store's `<data>/clickhouse` can be served as it is).
        `narrow_default`: the password-less `default` user may do no more than keep the servers
        up (tracker/storage/server_users.py; a cluster's nodes then need `cluster_secret`, or
        they log in to each other as `default`); `stop_with_parent`: the node stops cleanly when
        the process that started it dies; `cluster_secret`: the interserver secret of the
        clusters in `clusters`."""
        self.dir = Path(node_dir).resolve()
        self.data_path = Path(data_path).resolve() if data_path else self.dir / "data"
        self.http_port = http_port or free_port()
        self.tcp_port = tcp_port or free_port()
        self.clusters = dict(clusters or {})
        self.users = tuple(users)
        self.narrow_default = narrow_default
        self.cluster_secret = cluster_secret
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
        (self.dir / "users.xml").write_text(users_xml(self.users, narrow_default=self.narrow_default))
        (self.dir / "config.xml").write_text(
            "<clickhouse>\n"
            "  <listen_host>127.0.0.1</listen_host>\n"
            f"  <http_port>{self.http_port}</http_port>\n"
            f"  <tcp_port>{self.tcp_port}</tcp_port>\n"
            "  <users_config>users.xml</users_config>\n"
            f"  <background_distributed_schedule_pool_size>{DISTRIBUTED_POOL}</background_distributed_schedule_pool_size>\n"
            + QUERY_LOG
            + _remote_servers(self.clusters, self.cluster_secret)
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
        if self.narrow_default:
            self._prepare_stop_table(timeout)
        log = open(self.dir / LOG, "wb")
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tracker.storage.server_process", str(self.dir), str(self.data_path)]
                + (["--stop-with-parent"] if self.stop_with_parent else []) + (["--stop-table"] if self.narrow_default else []),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir, start_new_session=True,
            )
        finally:
            log.close()
        self._wait_ready(timeout)
        return self

    def _prepare_stop_table(self, timeout: float) -> None:
        """Create (or re-point) the stop fifo's `File` table in the node's data, in a short engine
        process of its own: run from a directory with no config, it runs as an unrestricted
        `default`, which the narrowed one of the node is not."""
        scratch = self.dir / "prepare"
        scratch.mkdir(exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-m", "tracker.storage.server_process", "--prepare-stop-table", str(self.data_path), str(self.dir / FIFO)],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=scratch, timeout=timeout,
        )
        if done.returncode != 0:
            raise ServerError(f"cannot prepare {STOP_TABLE} in {self.data_path}: {(done.stderr or done.stdout)[-2000:].strip()}")

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
                  narrow_default: bool = False, timeout: float = READY_TIMEOUT) -> Cluster:
    """Start `shards` nodes under `base_dir`, each listing all of them as the shards of `name`,
    with an interserver secret of their own: a node runs its part of a distributed query as the
    user who sent it (who must exist on every node), not as `default`; so `default` can be
    narrowed on a cluster too (`narrow_default`), the users then doing all the work."""
    secret = secrets.token_urlsafe(24)
    nodes = [ServerProcess(Path(base_dir) / f"node{i + 1}", users=users, narrow_default=narrow_default, cluster_secret=secret)
             for i in range(shards)]
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


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def serve(node_dir: str, data_path: str, stop_with_parent: bool = False, stop_table: bool = False) -> int:
    """Run one node until a line arrives on its fifo. The process's only job. `stop_table`: read
    the fifo through `STOP_TABLE` (a narrowed `default` may not use `file()`)."""
    from chdb import _chdb  # before the engine starts anywhere in this process

    os.chdir(node_dir)
    if stop_with_parent:
        _stop_when_orphaned(os.path.join(node_dir, FIFO))
    source = STOP_TABLE if stop_table else f"file({_quoted(os.path.join(node_dir, FIFO))}, 'LineAsString')"
    result = _chdb.query(f"SYSTEM START LISTEN HTTP; SYSTEM START LISTEN TCP; SELECT count() FROM {source}", "TabSeparated", path=data_path)
    # A failed statement (a port already taken) returns an empty result; the engine has written
    # its error to fd 2, the node's log. Only the fifo's line ends the query with a count.
    if not result.bytes().strip().isdigit():
        sys.stderr.write("ClickHouse node stopped before its fifo was written to (error above)\n")
        return 1
    return 0


def prepare_stop_table(data_path: str, fifo: str) -> int:
    """`ServerProcess._prepare_stop_table`'s process: the `File` table over `fifo`, created or
    re-pointed (the data dir may have moved). Run where no config.xml is (an unrestricted
    `default`); reading the fifo's table later needs no `READ ON FILE`."""
    from chdb import _chdb

    result = _chdb.query(
        f"CREATE DATABASE IF NOT EXISTS {STOP_DATABASE}; "
        f"CREATE OR REPLACE TABLE {STOP_TABLE} (line String) ENGINE = File(LineAsString, {_quoted(fifo)}); SELECT 1",
        "TabSeparated", path=data_path,
    )
    return 0 if result.bytes().strip() == b"1" else 1


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
    if sys.argv[1] == "--prepare-stop-table":
        sys.exit(prepare_stop_table(sys.argv[2], sys.argv[3]))
    sys.exit(serve(sys.argv[1], sys.argv[2], "--stop-with-parent" in sys.argv[3:], "--stop-table" in sys.argv[3:]))
