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
