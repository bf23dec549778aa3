"""The durable spool and the flusher: records, torn tails, the cap, retries when storage
fails (a sink that fails on purpose at the seam, real chDB behind it), dead letters."""

from __future__ import annotations

import asyncio
import threading
import uuid

import orjson
import pytest

from tests.conftest import flush, journey_rows
from tracker.errors import StorageError
from tracker.ingest.flusher import Flusher
from tracker.ingest.spool import HEADER, Spool, SpoolFull, encode_record, read_records


def make_spool(tmp_path, **kw) -> Spool:
    opts = {"segment_bytes": 1 << 20, "max_bytes": 1 << 30, "fsync": True, "seal_after": 60.0, **kw}
    return Spool(tmp_path / "spool", **opts)


def test_records_round_trip_and_stop_at_corruption():
    data = encode_record(b"one\n") + encode_record(b"two\n")
    assert read_records(data) == ([b"one\n", b"two\n"], len(data))
    corrupted = data[:-2] + b"X\n"
    assert read_records(corrupted)[0] == [b"one\n"]
    assert read_records(data[:-1])[0] == [b"one\n"]  # torn tail


def test_append_is_durable_before_the_wait_returns(tmp_path):
    spool = make_spool(tmp_path)

    async def go():
        ticket = spool.append(b'{"a":1}\n')
        await spool.wait_durable(ticket)

    # A thread of its own: a browser test module may hold Playwright's loop in the main thread.
    runner = threading.Thread(target=asyncio.run, args=(go(),))
    runner.start()
    runner.join(10)
    assert spool.fsyncs >= 1
    open_files = list((tmp_path / "spool").glob("*.open"))
    assert read_records(open_files[0].read_bytes())[0] == [b'{"a":1}\n']
    spool.close()


def test_recovery_cuts_the_torn_tail_and_seals(tmp_path):
    spool = make_spool(tmp_path)
    spool.append_sync(b"kept\n")
    spool.append_sync(b"kept too\n")
    path = next((tmp_path / "spool").glob("*.open"))
    crashed = tmp_path / "crashed" / "spool"  # the dir as a crash leaves it: unsealed, torn tail
    crashed.mkdir(parents=True)
    (crashed / path.name).write_bytes(path.read_bytes() + HEADER.pack(b"TS", 100, 0) + b"partial")
    spool.close()
    again = make_spool(tmp_path / "crashed")
    segments = again.ready_segments()
    assert [again.read(p).records for p in segments] == [[b"kept\n", b"kept too\n"]]
    again.close()


def test_seal_by_size_and_cap(tmp_path):
    spool = make_spool(tmp_path, segment_bytes=100, max_bytes=400)
    for _ in range(3):
        spool.append_sync(b"x" * 90)
    deadline = __import__("time").monotonic() + 5
    while len(spool.ready_segments()) < 3 and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.01)
    assert len(spool.ready_segments()) == 3
    spool.append_sync(b"x" * 90)
    with pytest.raises(SpoolFull):
        spool.append(b"x")
    spool.close()


class FlakyStorage:
    """The real storage, failing on purpose for the first `failures` inserts."""

    def __init__(self, storage, failures: int):
        self.storage = storage
        self.failures = failures
        self.calls = 0

    def insert_jsonl(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise StorageError("storage unavailable during flushing the spool")
        return self.storage.insert_jsonl(*args, **kwargs)

    def ping(self):
        return self.calls >= self.failures

    def __getattr__(self, name):
        return getattr(self.storage, name)


def test_flusher_retries_until_storage_is_back_and_loses_nothing(tmp_path, runtime, new_site):
    site = new_site()
    flaky = FlakyStorage(runtime.storage, failures=3)
    spool = make_spool(tmp_path, seal_after=0.05)
    flusher = Flusher(flaky, spool, interval=0.05, max_bytes=1 << 20)
    ids = []
    for i in range(50):
        rows = journey_rows(site, {f"v{i}": [("pageview", "/", i)]}, runtime=runtime)
        ids.append(orjson.loads(rows)["event_id"])
        spool.append_sync(rows)
    flusher.start()
    try:
        assert flusher.drain(30) or spool.size_bytes == 0
        deadline = __import__("time").monotonic() + 30
        while spool.size_bytes and __import__("time").monotonic() < deadline:
            __import__("time").sleep(0.05)
    finally:
        flusher.stop()
        spool.close()
    assert flusher.stats.failures >= 1 and flaky.calls > 3
    got = runtime.storage.query("SELECT event_id FROM events FINAL WHERE site = {s:String}", {"s": site}).rows
    assert sorted(r[0] for r in got) == sorted(ids)


def test_rows_clickhouse_refuses_go_to_dead_letters(tmp_path, runtime, new_site):
    site = new_site()
    spool = make_spool(tmp_path)
    flusher = Flusher(runtime.storage, spool, interval=0.05, max_bytes=1 << 20)
    good = journey_rows(site, {"good": [("pageview", "/", 0)]}, runtime=runtime)
    bad_vid = f"bad-{uuid.uuid4().hex[:6]}"
    bad = orjson.dumps({"site": site, "event_id": "x", "type": "pageview", "ts": "not a time", "vid": bad_vid}) + b"\n"
    spool.append_sync(good)
    spool.append_sync(bad)
    spool.request_seal()
    assert flusher.flush_once()
    spool.close()
    assert runtime.storage.scalar("SELECT count() FROM events FINAL WHERE site = {s:String}", {"s": site}) == 1
    assert runtime.storage.scalar("SELECT count() FROM dead_letters WHERE vid = {v:String}", {"v": bad_vid}) == 1
    assert flusher.stats.dead_letters == 1


def test_rows_refused_for_the_servers_fault_are_retried_not_dead_lettered(tmp_path, runtime):
    """A view on the flushed table whose target is gone refuses every insert (UNKNOWN_TABLE):
    nothing is wrong with the rows, so they wait in the spool and arrive once it is fixed."""
    storage, name = runtime.storage, f"probe_{uuid.uuid4().hex[:8]}"
    storage.command(f"CREATE TABLE {name} (x UInt32) ENGINE = MergeTree ORDER BY x")
    storage.command(f"CREATE TABLE {name}_to (x UInt32) ENGINE = MergeTree ORDER BY x")
    storage.command(f"CREATE MATERIALIZED VIEW {name}_mv TO {name}_to AS SELECT x FROM {name}")
    storage.command(f"DROP TABLE {name}_to SYNC")
    spool = make_spool(tmp_path)
    flusher = Flusher(storage, spool, interval=0.05, max_bytes=1 << 20, table=name)
    spool.append_sync(b"".join(orjson.dumps({"x": i}) + b"\n" for i in range(3)))
    spool.append_sync(orjson.dumps({"x": 3}) + b"\n")
    spool.request_seal()
    try:
        with pytest.raises(StorageError) as refused:
            flusher.flush_once()
        assert refused.value.code == 60 and flusher.stats.dead_letters == 0
        assert spool.ready_segments(), "the batch stays in the spool"
        storage.command(f"CREATE TABLE {name}_to (x UInt32) ENGINE = MergeTree ORDER BY x")
        assert flusher.flush_once()
        assert storage.scalar(f"SELECT groupArraySorted(4)(x) FROM {name}") == [0, 1, 2, 3]
        assert storage.scalar(f"SELECT count() FROM {name}_to") == 4
    finally:
        spool.close()
        for table in (f"{name}_mv", f"{name}_to", name):
            storage.command(f"DROP TABLE IF EXISTS {table} SYNC")


def test_runtime_flush_helper_drains_everything(client, runtime, new_site):
    site = new_site()
    body = orjson.dumps({"site": site, "events": [{"type": "pageview", "id": uuid.uuid4().hex, "url": "https://shop.example/"} for _ in range(30)]})
    assert client.post("/api/collect", content=body, headers={"Content-Type": "text/plain"}).json()["accepted"] == 30
    flush(runtime)
    assert runtime.spool.size_bytes == 0 and runtime.spool.buffered_events == 0
    assert runtime.storage.scalar("SELECT count() FROM events FINAL WHERE site = {s:String}", {"s": site}) == 30
