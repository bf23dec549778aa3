"""SIGKILL at random moments, over and over, under steady load: every acknowledged event is
stored and counted once by the reports.

A real `tracker serve` is started, fed by sender threads, and SIGKILLed after a random
0.2-0.9 s, 20+ times on one data dir. The flush interval is 50 ms, so a kill often lands while
a segment is being sealed, inserted or released (mid-flush), and sometimes while a request's
fsync is in flight. After the last kill a clean start replays what the spool holds; then the
stored ids must include every acknowledged one, none twice in the reports (overview,
traffic=all), and none that was never sent.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import httpx2 as httpx
import orjson
import pytest

from tests.support.servers import TrackerServer, free_port

pytestmark = pytest.mark.slow
TEXT = {"Content-Type": "text/plain"}


class Load:
    """Sender threads posting batches of unique ids; records what was sent and what was 202'd."""

    def __init__(self, url: str, threads: int = 3, batch: int = 5):
        self.url, self.batch = url, batch
        self.sent: set[str] = set()
        self.acked: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(15)

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                ids = [uuid.uuid4().hex for _ in range(self.batch)]
                body = orjson.dumps({"site": "shop", "events": [{"type": "pageview", "id": i, "url": "https://shop.example/k"} for i in ids]})
                with self._lock:
                    self.sent.update(ids)
                try:
                    r = client.post(self.url + "/api/collect", content=body, headers=TEXT)
                except httpx.HTTPError:
                    time.sleep(0.01)
                    continue
                if r.status_code == 202 and r.json()["accepted"] == self.batch:
                    with self._lock:
                        self.acked.update(ids)


def kill_loop(data, port: int, kills: int, rng: random.Random, env: dict | None = None) -> tuple[set[str], set[str]]:
    """`kills` rounds of start, load, SIGKILL at a random moment; (sent, acknowledged) ids."""
    sent: set[str] = set()
    acked: set[str] = set()
    for _ in range(kills):
        server = TrackerServer(data, port, env={"TRACKER_FLUSH_INTERVAL": "0.05", **(env or {})}).start()
        with Load(server.url) as load:
            time.sleep(rng.uniform(0.2, 0.9))
            server.proc.kill()
            server.proc.wait()
            server.proc = None
        sent |= load.sent
        acked |= load.acked
    return sent, acked


def test_sigkill_loop_loses_nothing_acknowledged_and_counts_each_once(tmp_path):
    data, port = tmp_path / "data", free_port()
    first = TrackerServer(data, port).start()
    first.add_site("shop")
    first.stop()
    rng = random.Random(2026)
    sent, acked = kill_loop(data, port, 20, rng)
    assert len(acked) > 500, f"too little was acknowledged ({len(acked)}) for the loop to mean anything"
    final = TrackerServer(data, port).start()
    try:
        deadline = time.monotonic() + 30
        while httpx.get(final.url + "/readyz", timeout=5).json()["buffer"]["buffered_events"] and time.monotonic() < deadline:
            time.sleep(0.1)
        overview = final.api("GET", "/api/reports/overview", params={"site": "shop", "traffic": "all"}).json()
    finally:
        final.stop()
    rows = final.stored("SELECT event_id, count() AS copies FROM events FINAL WHERE site = {site:String} GROUP BY event_id", site="shop")
    stored = {r["event_id"] for r in rows}
    assert not acked - stored, f"{len(acked - stored)} of {len(acked)} acknowledged events lost over 20 kills"
    assert stored <= sent, "stored ids that were never sent"
    assert all(r["copies"] == 1 for r in rows)
    assert overview["pageviews"] == len(stored), "the report must count each stored event once"
