"""The one owner of clickhouse-connect.

`Storage` wraps a clickhouse-connect client built from the DSN: `chdb:///dir` is the
embedded engine (one process per dir), `http(s)://user:pass@host:port/db` a server. Every
driver error is translated here, and only here, into tracker's own errors, with no SQL or
stack in the message. Every read carries a budget (`max_execution_time`, result rows) so a
runaway report becomes a clean 504 rather than a hung worker.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

from tracker.config import Settings
from tracker.errors import BadRequest, DataDirBusy, QueryTimeout, StorageError
from tracker.storage import shards
from tracker.storage.embedded import open_quietly
from tracker.storage.access import INGEST_TABLES

log = logging.getLogger(__name__)

# ClickHouse error codes we give their own meaning.
_TIMEOUT_CODES = {159, 160, 209, 210}  # TIMEOUT_EXCEEDED, TOO_SLOW, SOCKET_TIMEOUT, NETWORK_ERROR
_LIMIT_CODES = {396}  # TOO_MANY_ROWS_OR_BYTES
_CODE = re.compile(r"Code: (\d+)")
_FORMAT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_INSERT_TARGET = re.compile(r"^\s*INSERT\s+INTO\s+`?(\w+)`?", re.I)

# Connection roles (see Storage and tracker.storage.access): the DSN's own user, ingest's
# inserts (into `access.INGEST_TABLES` only), report reads.
OWNER, INGEST, REPORTS = "owner", "ingest", "reports"

# On a cluster. Reads: an `IN (subquery)` or JOIN on a Distributed table inside a query that
# itself reads a Distributed table runs the subquery once, on the node that took the query, and
# ships its result to the shards (GLOBAL IN): the subquery's table need not be sharded like the
# outer one (the promotions registry is not sharded by visitor). Writes: an insert into a
# Distributed table returns once every shard has its rows, so a flushed spool segment or a
# computed trust set is readable at once (and a failed shard fails the insert, which is retried).
CLUSTER_READ_SETTINGS = {"distributed_product_mode": "global"}
CLUSTER_WRITE_SETTINGS = {"distributed_foreground_insert": 1}


def _sql_string(text: str) -> str:
    """A single-quoted SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class Result:
    columns: tuple[str, ...]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def first(self) -> dict[str, Any] | None:
        return dict(zip(self.columns, self.rows[0])) if self.rows else None


def _error_code(exc: BaseException) -> int | None:
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


@contextmanager
def translate_errors(what: str) -> Iterator[None]:
    """Driver errors in, tracker errors out. The full text goes to the log, not the client."""
    try:
        yield
    except (ClickHouseError, OSError, RuntimeError) as exc:
        code = _error_code(exc)
        log.warning("storage error during %s: %s", what, str(exc)[:2000])
        if code in _TIMEOUT_CODES:
            raise QueryTimeout(f"{what} took longer than its time budget") from None
        if code in _LIMIT_CODES:
            raise BadRequest(f"{what} would return too many rows; narrow the range or filters") from None
        text = str(exc)
        if "Cannot lock file" in text or "Another server instance" in text or "already initialized with path" in text:
            raise DataDirBusy("the embedded data dir is held by another process") from None
        error = StorageError(f"storage unavailable during {what}" + (f" (ClickHouse code {code})" if code else ""))
        error.code = code
        raise error from None


def _role_of(table: str) -> str:
    return INGEST if table in INGEST_TABLES else OWNER


class Storage:
    """A ClickHouse connection for the whole process; safe to share between threads.

    With a server DSN each *role* may log in as its own ClickHouse user (settings
    `ingest_user`, `reports_user`; `tracker storage grants` prints their grants): inserts into
    the ingest tables (`INGEST_TABLES`) go through the ingest user, reads through the reports
    user, everything else (DDL, registries, trust caches, erasure) through the DSN's own user.
    A role without a user of its own uses the DSN's. Clients keep no server session, so threads
    may run queries at once on one client (a session admits one query at a time).

    Cluster (`cluster` set): queries read the Distributed tables on the DSN's node. DDL and
    mutations of the `_local` tables go `ON CLUSTER` (`on_cluster`), or, when `cluster_nodes`
    lists the nodes, to each node in turn (`command(..., every_node=True)`, `nodes()`).
    Writes wait until every shard has its rows (`distributed_foreground_insert`).
    """

    def __init__(self, settings: Settings, *, _node_dsn: str | None = None):
        self.settings = settings
        self.dsn = _node_dsn or settings.effective_dsn
        self.database = settings.database
        self.cluster = settings.cluster
        self.embedded = settings.embedded and _node_dsn is None
        self.is_node = _node_dsn is not None  # one node of a Keeper-less cluster (migrations, fan-out)
        self._read_settings: dict[str, Any] = {
            "max_execution_time": settings.query_timeout,
            "max_result_rows": settings.max_result_rows,
            "result_overflow_mode": "throw",
            # Dedup of the events table is ReplacingMergeTree + FINAL within a day partition
            # (storage.repartition): FINAL never merges across partitions, and a closed day kept
            # in one merged part is read without the merging step, as cheaply as a plain read.
            "do_not_merge_across_partitions_select_final": 1,
        }
        # Day partitions: an import or seed of a long history writes hundreds in one block.
        self._write_settings: dict[str, Any] = {"max_partitions_per_insert_block": 0}
        if self.cluster and not self.is_node:
            self._read_settings.update(CLUSTER_READ_SETTINGS)
            self._write_settings.update(CLUSTER_WRITE_SETTINGS)
        self._connect_lock = threading.Lock()
        self._structures: dict[str, tuple[str, str]] = {}
        self._clients: dict[str, Any] = {}
        self._nodes: list[Storage] | None = None
        # Embedded: one engine handle per thread. clickhouse-connect serializes the calls on a
        # chdb handle, so with one shared handle every query waited for the one before it: a
        # 1 ms token check or a flush behind a 10 s report (measured: SELECT 1 took 29.5 s
        # behind a long query). Handles to the one engine are cheap; queries on different
        # handles run at once, as on a server.
        self._local = threading.local()
        self._tag = threading.local()  # `tagged`: this thread's log_comment
        self._handles: list[Any] = []
        if self.embedded:
            self._clients[OWNER] = self._connect(OWNER)  # the dir lock must fail fast and clearly
            self._local.client = self._clients[OWNER]

    def _embedded_client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            with translate_errors("connecting to ClickHouse"):
                client = self._local.client = self._open_embedded()
            with self._connect_lock:
                self._handles.append(client)
        return client

    def _client_for(self, role: str) -> Any:
        """The driver client of `role`, connected on first use (a server may be down at start);
        embedded, this thread's handle to the engine."""
        if self.embedded and self._clients:
            return self._embedded_client()
        if self.embedded or not self._credentials(role)[0]:
            role = OWNER
        client = self._clients.get(role)
        if client is None:
            with self._connect_lock:
                client = self._clients.get(role)
                if client is None:
                    client = self._clients[role] = self._connect(role)
        return client

    @property
    def _client(self) -> Any:
        return self._client_for(OWNER)

    def _credentials(self, role: str) -> tuple[str, str]:
        if role == INGEST:
            return self.settings.ingest_user, self.settings.ingest_password
        if role == REPORTS:
            return self.settings.reports_user, self.settings.reports_password
        return "", ""

    def _connect(self, role: str) -> Any:
        if self.embedded:
            from pathlib import Path

            Path(self.dsn[len("chdb://"):]).mkdir(parents=True, exist_ok=True)
            return open_quietly(self._open_embedded)
        user, password = self._credentials(role)
        login = {"username": user, "password": password} if user else {}
        with translate_errors("connecting to ClickHouse"):
            if role == OWNER:
                boot = clickhouse_connect.get_client(dsn=self.dsn, autogenerate_session_id=False, dedicated_pool=True, connect_timeout=5,
                                                    send_receive_timeout=60)
                try:
                    boot.command(f"CREATE DATABASE IF NOT EXISTS `{self.database}`" + self.on_cluster)
                finally:
                    boot.close()
            # A pool of its own: closing the client closes its keep-alive connections (a server
            # waits for open ones when it shuts down).
            return clickhouse_connect.get_client(dsn=self.dsn, database=self.database, autogenerate_session_id=False, dedicated_pool=True,
                                                 connect_timeout=5, send_receive_timeout=60, **login)

    def _open_embedded(self) -> Any:
        with translate_errors("connecting to ClickHouse"):
            client = clickhouse_connect.get_client(dsn=self.dsn)
            client.command(f"CREATE DATABASE IF NOT EXISTS `{self.database}`")
            client.database = self.database
            client.command(f"USE `{self.database}`")
            return client

    @property
    def on_cluster(self) -> str:
        """` ON CLUSTER <name>` for DDL on a cluster with Keeper; empty otherwise (one node, or a
        cluster whose nodes are listed and changed one by one)."""
        return f" ON CLUSTER `{self.cluster}`" if self.replicated else ""

    @property
    def replicated(self) -> bool:
        """True on a cluster managed through Keeper: ON CLUSTER DDL, Replicated* engines."""
        return bool(self.cluster) and not self.settings.cluster_nodes and not self.is_node

    def render(self, sql: str) -> str:
        """`sql` with its shard-local levels (`shards.shard_local`) made SQL for this backend."""
        return shards.render(sql, "" if self.is_node else (self.cluster or ""), self.database)

    @contextmanager
    def tagged(self, comment: str) -> Iterator[None]:
        """Every statement this thread sends meanwhile carries `log_comment = comment`: the
        server's query_log (and each shard's, for the parts of a query it ran) says which report
        asked."""
        saved = getattr(self._tag, "comment", None)
        self._tag.comment = comment
        try:
            yield
        finally:
            self._tag.comment = saved

    def _with_tag(self, settings: dict[str, Any]) -> dict[str, Any]:
        comment = getattr(self._tag, "comment", None)
        return {**settings, "log_comment": comment} if comment else settings

    def local(self, table: str) -> str:
        """The table that holds a table's rows: `<table>_local` on a cluster."""
        return f"{table}_local" if self.cluster else table

    def nodes(self) -> list[Storage]:
        """One Storage per listed cluster node (`cluster_nodes`), else just this one."""
        if not self.settings.cluster_nodes or self.is_node:
            return [self]
        if self._nodes is None:
            with self._connect_lock:
                if self._nodes is None:
                    self._nodes = [Storage(self.settings, _node_dsn=dsn) for dsn in self.settings.cluster_nodes]
        return self._nodes

    # --- reads ---------------------------------------------------------------------------
    def query(self, sql: str, params: Mapping[str, Any] | None = None, *, what: str = "query", settings: Mapping[str, Any] | None = None) -> Result:
        merged = self._with_tag(dict(self._read_settings))
        if settings:
            merged.update(settings)
        with translate_errors(what):
            result = self._client_for(REPORTS).query(self.render(sql), parameters=dict(params or {}), settings=merged)
            return Result(tuple(result.column_names), list(result.result_rows))

    def dicts(self, sql: str, params: Mapping[str, Any] | None = None, *, what: str = "query", settings: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        return self.query(sql, params, what=what, settings=settings).dicts()

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None, *, what: str = "query") -> Any:
        rows = self.query(sql, params, what=what).rows
        return rows[0][0] if rows else None

    # --- writes --------------------------------------------------------------------------
    def command(self, sql: str, params: Mapping[str, Any] | None = None, *, what: str = "command", settings: Mapping[str, Any] | None = None,
                every_node: bool = False) -> Any:
        """Run a statement as the DSN's user. `every_node`: a statement on `_local` tables (DDL,
        a mutation, a partition drop) that must reach every node; the caller adds `on_cluster`
        where the statement takes it, and on a cluster listed in `cluster_nodes` it runs on
        each node in turn instead."""
        if every_node and not self.is_node and self.settings.cluster_nodes:
            result = None
            for node in self.nodes():
                result = node.command(sql, params, what=what, settings=settings)
            return result
        merged = self._with_tag({**self._write_settings, **(settings or {})})
        with translate_errors(what):
            return self._client.command(self.render(sql), parameters=dict(params or {}) or None, settings=merged or None)

    def insert_jsonl(self, table: str, data: bytes, *, dedup_token: str | None = None, what: str = "insert",
                     plain_dictionaries: bool = False) -> None:
        """Insert rows that are already JSONEachRow bytes: no Python-side row handling. An
        omitted column takes its type's default, not its DEFAULT expression.

        `plain_dictionaries`: read every `LowCardinality(T)` column of the rows as a plain `T`
        and let the INSERT cast the whole column. ClickHouse parses a text value into a
        LowCardinality column one row at a time through a temporary column, which for the
        events table (23 such columns) cost as much as parsing all the other columns; the cast of
        a whole block is cheap (measured on 622-byte events rows: 6.2 -> 3.5 us of engine CPU a
        row). The stored values are the same: each value is parsed by the same `T` parser."""
        if not data:
            return
        # Rows omit empty columns; their type defaults ("" / 0 / NULL) are what they mean, so
        # ClickHouse need not evaluate DEFAULT expressions per row (~25% faster inserts).
        settings: dict[str, Any] = {"input_format_skip_unknown_fields": 1, "input_format_defaults_for_omitted_fields": 0,
                                    **self._write_settings}
        if dedup_token:
            settings["insert_deduplication_token"] = dedup_token
        if plain_dictionaries:
            if self.embedded:
                # The engine shares this machine's cores with whoever made the rows (the import's
                # encoders): parsing in one thread took ~10% less engine CPU for the same time.
                settings["input_format_parallel_parsing"] = 0
            columns, structure = self._plain_structure(table)
            clause = ", ".join(f"{k} = {_sql_string(v) if isinstance(v, str) else int(v)}" for k, v in settings.items())
            self.insert_select(f"INSERT INTO `{table}` ({columns}) SELECT {columns} FROM $INPUT SETTINGS {clause}", data,
                               structure=structure, fmt="JSONEachRow", what=what)
            return
        with translate_errors(what):
            self._client_for(_role_of(table)).raw_insert(table, None, data, settings=settings, fmt="JSONEachRow")

    def _plain_structure(self, table: str) -> tuple[str, str]:
        """(quoted insertable columns, their structure with LowCardinality(T) read as T), cached:
        migrations run before the first insert and never change a column's type afterwards."""
        cached = self._structures.get(table)
        if cached is None:
            rows = self.query("SELECT name, type FROM system.columns WHERE database = {db:String} AND table = {t:String}"
                              " AND default_kind NOT IN ('MATERIALIZED', 'ALIAS', 'EPHEMERAL') ORDER BY position",
                              {"db": self.database, "t": table}, what="reading the table's columns").rows
            if not rows:
                raise StorageError(f"no table {table!r} to insert into")
            plain = [(name, kind[len("LowCardinality("):-1] if kind.startswith("LowCardinality(") else kind) for name, kind in rows]
            cached = (", ".join(f"`{name}`" for name, _ in plain), ", ".join(f"`{name}` {kind}" for name, kind in plain))
            self._structures[table] = cached
        return cached

    def insert_select(self, sql: str, data: bytes, *, structure: str, fmt: str = "Native", params: Mapping[str, Any] | None = None,
                      what: str = "insert") -> None:
        """Run `sql`, an `INSERT INTO ... SELECT ... FROM $INPUT ...` whose `$INPUT` is the rows in
        `data` (format `fmt`, columns `structure`), so ClickHouse can reshape rows on the way in
        (e.g. expand compact rows with ARRAY JOIN). A server reads them from the request body
        (`input()`); the embedded engine has no request body, so they go through a temporary
        file (`file()`), as clickhouse-connect's own chDB inserts do."""
        if not data:
            return
        target = _INSERT_TARGET.match(sql)
        if sql.count("$INPUT") != 1 or not _FORMAT_NAME.match(fmt) or target is None:
            raise ValueError("insert_select needs an INSERT INTO, one $INPUT and a format name")
        bind = dict(params or {})
        with translate_errors(what):
            if not self.embedded:
                source = f"input({_sql_string(structure)})"
                self._client_for(_role_of(target.group(1))).command(
                    sql.replace("$INPUT", source) + f"\nFORMAT {fmt}", parameters=bind, data=data, settings=self._write_settings or None)
                return
            import os
            import tempfile

            with tempfile.NamedTemporaryFile(prefix="tracker-insert-", suffix=f".{fmt.lower()}", delete=False) as tmp:
                tmp.write(data)
            try:
                bind["insert_select_file"] = tmp.name
                source = f"file({{insert_select_file:String}}, {_sql_string(fmt)}, {_sql_string(structure)})"
                self._client.command(sql.replace("$INPUT", source), parameters=bind)
            finally:
                os.unlink(tmp.name)

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, what: str = "insert") -> None:
        if not rows:
            return
        with translate_errors(what):
            self._client_for(_role_of(table)).insert(table, list(rows), column_names=list(columns), settings=self._write_settings or None)

    def ping(self) -> bool:
        try:
            with translate_errors("ping"):
                self._client_for(REPORTS).query("SELECT 1")
            return True
        except Exception:  # readiness probe: any failure is "not ready"
            return False

    def close(self) -> None:
        with self._connect_lock:
            handles, self._handles = self._handles, []
        clients, self._clients = [*handles, *self._clients.values()], {}
        for node in self._nodes or ():
            node.close()
        for client in clients:
            try:
                client.close()
            except Exception:  # closing a broken connection must not mask the real error
                pass
