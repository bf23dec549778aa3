"""Restarts of a real `tracker serve`: every acknowledged event is stored, however often the
process restarts with an empty spool (segment numbers start again at 1 each time, so nothing
that identifies an insert may be derived from them)."""

from __future__ import annotations

import time

import httpx2 as httpx
import pytest

from tests.ingest.test_process import batch, post
from tests.support.servers import TrackerServer, free_port
from tracker.ingest.flusher import dedup_token

pytestmark = pytest.mark.slow


def test_the_dedup_token_is_a_digest_of_the_bytes():
    assert dedup_token(b'{"a":1}\n') == dedup_token(b'{"a":1}\n')
    assert dedup_token(b'{"a":1}\n') != dedup_token(b'{"a":2}\n')
    assert dedup_token(b"") != dedup_token(b"\n")


def _wait_flushed(server: TrackerServer, timeout: float = 20) -> None:
    """Until /readyz shows an empty spool (the flusher delivered every acknowledged row)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        buffer = httpx.get(server.url + "/readyz", timeout=5).json()["buffer"]
        if buffer["buffered_events"] == 0 and buffer["spool_bytes"] == 0:
            return
        time.sleep(0.1)
    raise AssertionError("the spool did not drain")


def test_restarts_with_an_empty_spool_lose_nothing(tmp_path):
    data, port = tmp_path / "data", free_port()
    acked: list[str] = []
    server = TrackerServer(data, port).start()
    server.add_site("shop")
    for round_ in range(4):
        if round_:
            server = TrackerServer(data, port).start()
        # Same shape every round (one event, then a pair): the insert that made a token repeat.
        for n in (1, 2):
            ids, body = batch("shop", n)
            r = post(server, body)
            assert r.status_code == 202 and r.json()["accepted"] == n
            acked += ids
            _wait_flushed(server)
        server.stop()  # SIGTERM: drains, leaves no segment behind
        assert not [p for p in (data / "spool").iterdir() if p.suffix in (".open", ".ready")]
    server = TrackerServer(data, port).start()
    rows = server.stored("SELECT event_id, count() AS n FROM events WHERE site = {site:String} GROUP BY event_id", site="shop")
    assert {r["event_id"] for r in rows} == set(acked), "acknowledged events were lost across restarts"
    assert all(r["n"] == 1 for r in rows)


def test_a_poison_row_in_the_spool_is_dead_lettered_and_the_rest_delivered(tmp_path):
    """A segment holding a row ClickHouse refuses (e.g. left by an older version), between good
    ones: a real serve delivers the good rows, dead-letters the bad one, and SIGTERM drains."""
    import orjson

    from tracker.ingest.spool import encode_record

    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port, env={"TRACKER_FLUSH_INTERVAL": "3600"}).start()
    server.add_site("shop")
    good_ids, body = batch("shop", 6)
    assert post(server, body).json()["accepted"] == 6
    server.proc.kill()  # the six rows stay in the open segment
    server.proc.wait()
    server.proc = None
    [segment] = list((data / "spool").glob("*.open"))
    poison = orjson.dumps({"site": "shop", "event_id": "poison", "type": "pageview", "ts": "not a time", "vid": "poison-vid"}) + b"\n"
    segment.write_bytes(segment.read_bytes() + encode_record(poison))
    more_ids, body = batch("shop", 4)
    again = TrackerServer(data, port, env={"TRACKER_FLUSH_INTERVAL": "3600"}).start()
    assert post(again, body).json()["accepted"] == 4  # stays in the open segment until SIGTERM
    again.stop()  # SIGTERM: seals and flushes everything before exiting
    assert not [p for p in (data / "spool").iterdir() if p.suffix in (".open", ".ready")], "SIGTERM must drain the spool"
    rows = again.stored("SELECT event_id FROM events WHERE site = {site:String}", site="shop")
    assert sorted(r["event_id"] for r in rows) == sorted(good_ids + more_ids)
    dead = again.stored("SELECT vid, error FROM dead_letters WHERE vid = {vid:String}", vid="poison-vid")
    assert len(dead) == 1
