"""The floor of "durable and stored" on this stack: parse, fsync with group commit, insert.

    python loadtests/durable_app.py PORT DATA_DIR

A Starlette endpoint run under the same uvicorn setup as `tracker serve` that does only what
any durable collector must: parse the JSON body, turn each event into one JSONEachRow line
(the fields as sent, plus the site and the receive time), append the request's lines to a
file and answer 202 only once they are fsynced (one write + fsync for every request gathered
in the last 2 ms: group commit, as tracker's spool does), and insert the file's lines into an
embedded ClickHouse (chDB) table in batches once a second. No validation, enrichment, cookies,
privacy rules, checksums or recovery: what tracker does beyond this is its overhead.
bench_collect.py drives it beside the parse-only bare endpoint and tracker.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from pathlib import Path

import clickhouse_connect
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COMMIT_DELAY = 0.002
INSERT_EVERY = 1.0
TABLE = """CREATE TABLE IF NOT EXISTS events (site LowCardinality(String), type LowCardinality(String), id String, url String,
  ts UInt64, ref String, sid String, env Map(String, String), received_at DateTime64(3))
  ENGINE = MergeTree ORDER BY (site, id)"""


class Log:
    """An append-only file with group commit; closed files are inserted by another thread."""

    def __init__(self, directory: Path, client):
        self.dir = directory
        self.client = client
        self.client_lock = threading.Lock()  # one query at a time on the embedded engine's client
        self.lock = threading.Condition()
        self.pending: list[tuple[bytes, asyncio.Future, asyncio.AbstractEventLoop]] = []
        self.seq = 0
        self.fd = self._open()
        self.opened = time.monotonic()
        threading.Thread(target=self._commit_loop, daemon=True).start()
        threading.Thread(target=self._insert_loop, daemon=True).start()

    def _open(self) -> int:
        self.seq += 1
        return os.open(self.dir / f"{self.seq:09d}.open", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def append(self, lines: bytes) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self.lock:
            self.pending.append((lines, future, loop))
            self.lock.notify()
        return future

    def _commit_loop(self) -> None:
        while True:
            with self.lock:
                if not self.pending:
                    self.lock.wait(INSERT_EVERY)  # wakes to close an idle file too
            if self.pending:
                time.sleep(COMMIT_DELAY)  # let a group gather
            with self.lock:
                batch, self.pending = self.pending, []
            if batch:
                os.write(self.fd, b"".join(lines for lines, _, _ in batch))
                os.fsync(self.fd)
            for _, future, loop in batch:
                loop.call_soon_threadsafe(_done, future)
            if time.monotonic() - self.opened > INSERT_EVERY:
                os.close(self.fd)
                path = self.dir / f"{self.seq:09d}.open"
                path.rename(path.with_suffix(".ready"))
                self.fd = self._open()
                self.opened = time.monotonic()

    def _insert_loop(self) -> None:
        while True:
            time.sleep(INSERT_EVERY / 2)
            for path in sorted(self.dir.glob("*.ready")):
                data = path.read_bytes()
                try:
                    if data:
                        with self.client_lock:
                            self.client.raw_insert("events", None, data, fmt="JSONEachRow",
                                                   settings={"insert_deduplication_token": path.stem, "input_format_skip_unknown_fields": 1})
                except Exception as exc:  # kept on disk, retried next round
                    print(f"insert of {path.name} failed: {exc}", file=sys.stderr, flush=True)
                    break
                path.unlink()


def _done(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def build(port: int, data: Path) -> uvicorn.Server:
    data.mkdir(parents=True, exist_ok=True)
    client = clickhouse_connect.get_client(dsn=f"chdb:///{data / 'clickhouse'}")
    client.command(TABLE)
    (data / "log").mkdir(exist_ok=True)
    log = Log(data / "log", client)

    async def collect(request: Request) -> Response:
        payload = orjson.loads(await request.body())
        site, now = payload["site"], time.time()
        lines = b"".join(orjson.dumps({**event, "site": site, "received_at": now}) + b"\n" for event in payload["events"])
        await log.append(lines)
        return Response(orjson.dumps({"accepted": len(payload["events"]), "rejected": []}), status_code=202, media_type="application/json")

    async def count(request: Request) -> Response:
        with log.client_lock:
            return Response(str(client.command("SELECT count() FROM events")))

    app = Starlette(routes=[Route("/api/collect", collect, methods=["POST"]), Route("/count", count)])
    return uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, access_log=False, log_level="warning", server_header=False))


if __name__ == "__main__":
    build(int(sys.argv[1]), Path(sys.argv[2])).run()
