"""Ingest under real process faults: `tracker serve` subprocesses killed with SIGKILL,
restarted, started against unreachable storage, and contended data dirs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid

import httpx2 as httpx
import orjson
import pytest

from tests.support.servers import TrackerServer, free_port
from tracker.ingest.spool import read_records

pytestmark = pytest.mark.slow
TEXT = {"Content-Type": "text/plain"}


def batch(site: str, n: int) -> tuple[list[str], bytes]:
    ids = [uuid.uuid4().hex for _ in range(n)]
    body = orjson.dumps({"site": site, "events": [{"type": "pageview", "id": i, "url": "https://shop.example/p"} for i in ids]})
    return ids, body


def post(server: TrackerServer, body: bytes) -> httpx.Response:
    return httpx.post(server.url + "/api/collect", content=body, headers=TEXT, timeout=10)


def stored_ids(server: TrackerServer, site: str) -> set[str]:
    rows = server.stored("SELECT event_id FROM events FINAL WHERE site = {site:String}", site=site)
    return {r["event_id"] for r in rows}


def run_cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})


def test_restart_replays_the_spool_after_kill_9(tmp_path):
    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port, env={"TRACKER_FLUSH_INTERVAL": "3600"}).start()
    server.add_site("shop")
    acked: list[str] = []
    for _ in range(5):
        ids, body = batch("shop", 20)
        assert post(server, body).json()["accepted"] == 20
        acked += ids
    server.proc.kill()  # SIGKILL: no flush, no seal
    server.proc.wait()
    server.proc = None
    assert list((data / "spool").glob("*.open")), "the acknowledged rows should still be in the spool"
    again = TrackerServer(data, port).start()
    assert stored_ids(again, "shop") == set(acked)


def test_kill_9_during_a_steady_stream_loses_no_acknowledged_event(tmp_path):
    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port).start()
    server.add_site("shop")
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                ids, body = batch("shop", 10)
                try:
                    r = client.post(server.url + "/api/collect", content=body, headers=TEXT)
                except httpx.HTTPError:
                    continue
                if r.status_code == 202 and r.json()["accepted"] == 10:
                    with lock:
                        acked.extend(ids)

    threads = [threading.Thread(target=stream) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.5)
    server.proc.kill()
    server.proc.wait()
    server.proc = None
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 200, "the stream should have been acknowledged for a while"
    again = TrackerServer(data, port).start()
    missing = set(acked) - stored_ids(again, "shop")
    assert not missing, f"{len(missing)} acknowledged events were lost"


def test_unreachable_storage_keeps_accepting_until_the_cap_then_recovers(tmp_path):
    data, port = tmp_path / "data", free_port()
    data.mkdir()
    (data / "sites.json").write_bytes(orjson.dumps([{"site": "shop", "origins": []}]))  # last known registry
    (data / "cli_token").write_text("trk_000000000000_unused-because-storage-is-down\n")
    closed = free_port()
    down = TrackerServer(data, port, env={"TRACKER_DSN": f"http://127.0.0.1:{closed}", "TRACKER_SPOOL_MAX_BYTES": "20000"}).start()
    acked: list[str] = []
    statuses = []
    for _ in range(40):
        ids, body = batch("shop", 10)
        r = post(down, body)
        statuses.append(r.status_code)
        if r.status_code == 202:
            assert r.json()["accepted"] == 10
            acked += ids
        else:
            assert r.status_code == 503 and int(r.headers["retry-after"]) > 0 and "error" in r.json()
            break
    assert statuses[-1] == 503 and len(acked) >= 50
    ready = httpx.get(down.url + "/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["storage"] == "unreachable" and ready.json()["buffer"]["full"]
    down.stop()
    spooled = set()
    for path in (data / "spool").iterdir():
        for record in read_records(path.read_bytes())[0]:
            spooled |= {orjson.loads(line)["event_id"] for line in record.splitlines()}
    assert spooled == set(acked)
    # Recovery: the same spool delivered to a storage that answers (the embedded engine here).
    up = TrackerServer(data, port).start()
    up.add_site("shop")
    assert stored_ids(up, "shop") == set(acked)


def test_a_second_process_on_the_same_data_dir_gets_a_clear_error(tmp_path):
    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port).start()
    try:
        second = run_cli("serve", "--data", str(data), "--port", str(free_port()))
        assert second.returncode == 1
        assert f"already served by tracker serve (pid {server.proc.pid})" in second.stderr
        assert "Traceback" not in second.stderr
        via_server = run_cli("token", "list", "--data", str(data))  # goes through the server's API
        assert via_server.returncode == 0 and "cli-local" in via_server.stdout
    finally:
        server.stop()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys,time;from tracker.config import Settings;from tracker.storage.client import Storage;"
         "s=Storage(Settings.load({'data_dir':sys.argv[1]}, env={}));print('ready',flush=True);time.sleep(60)", str(data)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        blocked = run_cli("token", "list", "--data", str(data))
        assert blocked.returncode == 1
        assert "is in use by another process" in blocked.stderr and "Traceback" not in blocked.stderr
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


def test_cli_site_token_and_import_without_a_server(tmp_path):
    data = tmp_path / "data"
    r = run_cli("site", "add", "shop", "--origin", "https://Shop.Example:443/", "--origin", "https://m.shop.example", "--data", str(data))
    assert r.returncode == 0 and "https://shop.example, https://m.shop.example" in r.stdout
    r = run_cli("token", "create", "--role", "marketer", "--name", "ana", "--data", str(data))
    assert r.returncode == 0
    token = r.stdout.strip().splitlines()[-1]
    assert token.startswith("trk_") and " " not in token
    lines = [
        orjson.dumps({"type": "pageview", "id": f"i{i}", "url": "https://shop.example/p", "vid": f"v{i % 7}", "ts": 1767225600000 + i * 1000, "ip": "198.51.100.9", "ua": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"})
        for i in range(9000)  # over PARALLEL_MIN_LINES: encoded by the worker processes
    ]
    lines.insert(10, b"{not json")
    lines.insert(20, orjson.dumps({"type": "pageview", "id": "noid", "url": "https://shop.example/"}))  # no vid/ts
    lines.insert(30, b"")
    lines.insert(8000, b'{"type":"pageview"}')
    (tmp_path / "in.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    r = run_cli("import", str(tmp_path / "in.jsonl"), "--site", "newsite", "--data", str(data))
    assert r.returncode == 0, r.stderr
    assert "imported 9,000 events into newsite" in r.stdout and "3 bad lines skipped" in r.stdout
    assert "line 11: not valid JSON" in r.stderr and "line 21: vid is required" in r.stderr and "line 8001: vid is required" in r.stderr
    read = subprocess.run(
        [sys.executable, "-c", "import sys,orjson;from tracker.config import Settings;from tracker.storage.client import Storage;"
         "s=Storage(Settings.load({'data_dir':sys.argv[1]}, env={}));"
         "print(orjson.dumps(s.dicts(\"SELECT count() AS n, uniqExact(vid) AS v, min(ts) AS first, any(ua_device) AS device, any(ip_prefix) AS prefix, min(vid_signed) AS signed, any(id_source) AS src, min(ts = client_ts) AS same FROM events FINAL WHERE site='newsite'\")[0], default=str).decode())", str(data)],
        capture_output=True, text=True, check=True,
    )
    row = orjson.loads(read.stdout)
    assert row["n"] == 9000 and row["v"] == 7 and row["first"].startswith("2026-01-01T00:00:00")
    assert row["device"] == "mobile" and row["prefix"] == "198.51.100.0/24" and row["signed"] == 1 and row["src"] == "import" and row["same"] == 1
    r = run_cli("site", "list", "--data", str(data))
    assert "newsite" in r.stdout  # import creates the site
