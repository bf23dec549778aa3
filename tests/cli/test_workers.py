"""`tracker serve --workers 2` for real: a supervisor, two worker processes on one socket and
the embedded store served by a private storage process; workers killed with SIGKILL, the CLI
used while they serve, SIGTERM draining every spool, and spools left behind drained later."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest

from tests.support.servers import TrackerServer, free_port
from tracker.ingest.spool import read_records

pytestmark = pytest.mark.slow
# A browser's agent: pageviews from an HTTP library are scripted traffic, out of the trusted default.
TEXT = {"Content-Type": "text/plain", "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"}
WORKERS = {"TRACKER_WORKERS": "2"}


def batch(site: str, n: int) -> tuple[list[str], bytes]:
    ids = [uuid.uuid4().hex for _ in range(n)]
    body = orjson.dumps({"site": site, "events": [{"type": "pageview", "id": i, "url": "https://shop.example/p"} for i in ids]})
    return ids, body


def send(url: str, site: str, n: int) -> list[str]:
    """One batch on a fresh connection (so either worker may accept it); the ids acknowledged."""
    ids, body = batch(site, n)
    try:
        r = httpx.post(url + "/api/collect", content=body, headers=TEXT, timeout=10)
    except httpx.HTTPError:
        return []
    return ids if r.status_code == 202 and r.json()["accepted"] == n else []


class Load(list):
    """Four threads sending batches of 10 to `server` while the block runs; the list of ids
    acknowledged so far (appends are atomic; the threads stop and join on exit)."""

    def __init__(self, server: TrackerServer) -> None:
        super().__init__()
        self.server, self.stop = server, threading.Event()
        self.threads = [threading.Thread(target=self._stream) for _ in range(4)]

    def _stream(self) -> None:
        while not self.stop.is_set():
            self.extend(send(self.server.url, "shop", 10))

    def wait_for(self, count: int, what: str) -> None:
        wait_for(lambda: len(self) >= count, what=what)

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def workers_of(supervisor: int) -> dict[int, int]:
    """{worker index: pid} of a supervisor's live worker processes."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == supervisor and b"tracker.cli._workers" in cmd and " Z " not in stat:
            found[int(cmd[cmd.index(b"tracker.cli._workers") + 1])] = int(entry.name)
    return found


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def spooled_ids(directory: Path) -> set[str]:
    ids = set()
    for path in directory.glob("*.*"):
        if path.suffix in (".open", ".ready"):
            for record in read_records(path.read_bytes())[0]:
                ids |= {orjson.loads(line)["event_id"] for line in record.splitlines()}
    return ids


def tracker_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TRACKER_LOG_LEVEL": "warning"})


def test_both_workers_take_collect_and_sigterm_stores_every_event_once(tmp_path):
    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port, env={**WORKERS, "TRACKER_FLUSH_INTERVAL": "3600"}).start()
    assert sorted(workers_of(server.proc.pid)) == [0, 1]
    assert (data / "storage.json").exists() and oct((data / "storage.json").stat().st_mode & 0o777) == "0o600"
    server.add_site("shop")
    with ThreadPoolExecutor(8) as pool:
        acked = [i for ids in pool.map(lambda _: send(server.url, "shop", 10), range(160)) for i in ids]
    assert len(acked) == 1600
    # Nothing is flushed yet (an hour's interval): the rows sit in the two workers' spools.
    in_w0, in_w1 = spooled_ids(data / "spool" / "w0"), spooled_ids(data / "spool" / "w1")
    assert in_w0 and in_w1, "both workers should have accepted some of the requests"
    assert in_w0 | in_w1 == set(acked) and not in_w0 & in_w1
    server.stop()  # SIGTERM: each worker drains its spool, then the storage process stops
    assert not (data / "storage.json").exists() and not (data / "server.json").exists()
    assert not spooled_ids(data / "spool" / "w0") and not spooled_ids(data / "spool" / "w1")
    rows = server.stored("SELECT event_id, count() AS copies FROM events WHERE site = {site:String} GROUP BY event_id", site="shop")
    assert {r["event_id"] for r in rows} == set(acked)
    assert all(r["copies"] == 1 for r in rows), "an event was stored twice"


def test_a_worker_killed_mid_load_is_restarted_and_loses_no_acknowledged_event(tmp_path):
    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port, env=WORKERS).start()
    server.add_site("shop")
    with Load(server) as acked:
        acked.wait_for(200, what="traffic before the kill")  # not a fixed sleep: CI may be slow
        before = workers_of(server.proc.pid)
        os.kill(before[0], signal.SIGKILL)
        restarted = wait_for(lambda: (w := workers_of(server.proc.pid)).get(0) not in (None, before[0]) and w, what="worker 0's restart")
        assert restarted[1] == before[1], "the other worker keeps running"
        acked.wait_for(len(acked) + 100, what="traffic after the restart")
    assert "worker 0" in server.log.read_text() and "restarting it" in server.log.read_text()
    stored = {r["event_id"] for r in server.stored("SELECT event_id FROM events FINAL WHERE site = {site:String}", site="shop")}
    missing = set(acked) - stored
    if missing:
        # A 202 promises "on disk, delivered": on a loaded CI machine a restarted worker's stop
        # can leave a few recovered records in its spool; they must be there, and the next start
        # (plain serve drains every worker's spool) must deliver them.
        assert missing <= spooled_ids(data / "spool" / "w0") | spooled_ids(data / "spool" / "w1"), "acknowledged events neither stored nor spooled"
        again = TrackerServer(data, free_port()).start()
        stored = {r["event_id"] for r in again.stored("SELECT event_id FROM events FINAL WHERE site = {site:String}", site="shop")}
        missing = set(acked) - stored
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged events were not stored"


def test_the_storage_process_killed_mid_load_is_restarted_and_loses_no_acknowledged_event(tmp_path):
    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port, env=WORKERS).start()
    server.add_site("shop")
    with Load(server) as acked:
        acked.wait_for(200, what="traffic before the kill")  # not a fixed sleep: CI may be slow
        first = orjson.loads((data / "storage.json").read_bytes())
        os.kill(first["storage_pid"], signal.SIGKILL)
        wait_for(lambda: orjson.loads((data / "storage.json").read_bytes())["storage_pid"] != first["storage_pid"], what="the storage restart")
        acked.wait_for(len(acked) + 100, what="traffic after the restart")
    assert "the storage process exited" in server.log.read_text()
    stored = {r["event_id"] for r in server.stored("SELECT event_id FROM events FINAL WHERE site = {site:String}", site="shop")}
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged events were not stored"


def test_the_cli_works_while_workers_serve(tmp_path):
    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port, env=WORKERS).start()
    try:
        server.add_site("shop")
        acked = send(server.url, "shop", 5)
        assert len(acked) == 5
        report = wait_for(lambda: (r := tracker_cli("report", "overview", "--site", "shop", "--data", str(data), "--json", "--traffic", "all"))
                          .returncode == 0 and orjson.loads(r.stdout)["pageviews"] == 5 and r, what="the report to count 5 pageviews")
        assert "Traceback" not in report.stderr
        created = tracker_cli("token", "create", "--role", "marketer", "--name", "m", "--data", str(data))
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        # A token made through one worker works on every worker (shared through storage).
        for _ in range(6):
            r = httpx.get(server.url + "/api/reports/overview", params={"site": "shop"}, headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert r.status_code == 200
        # Anything opening the data dir's store goes through the storage process (storage.json).
        read = subprocess.run(
            [sys.executable, "-c", "import sys;from tracker.config import Settings;from tracker.storage import served;"
             "from tracker.storage.client import Storage;s=Storage(served.resolve(Settings.load({'data_dir':sys.argv[1]}, env={})));"
             "print(s.dsn.startswith('http://'), s.scalar(\"SELECT count() FROM sites FINAL WHERE site='shop'\"))", str(data)],
            capture_output=True, text=True, timeout=60,
        )
        assert read.returncode == 0 and read.stdout.split() == ["True", "1"], read.stderr[-2000:]
        # The storage process's password-less `default` reads no file and no table of tracker
        # (the full list: tests/storage/test_default_user.py).
        storage_url = httpx.URL(orjson.loads((data / "storage.json").read_bytes())["dsn"])
        as_default = f"http://127.0.0.1:{storage_url.port}/"
        for sql in ("SELECT * FROM file('/etc/passwd', 'RawBLOB')", "SELECT count() FROM tracker.sites", "SYSTEM STOP LISTEN HTTP"):
            r = httpx.post(as_default, params={"query": sql}, headers={"X-ClickHouse-User": "default"}, timeout=30)
            assert r.status_code != 200 and ("ACCESS_DENIED" in r.text or "QUOTA_EXCEEDED" in r.text), (sql, r.status_code, r.text[:300])
        # A second serve on the same dir, plain or with workers, is refused naming the supervisor.
        for extra in ((), ("--workers", "2")):
            second = tracker_cli("serve", "--data", str(data), "--port", str(free_port()), *extra)
            assert second.returncode == 1 and f"pid {server.proc.pid}" in second.stderr and "Traceback" not in second.stderr
    finally:
        server.stop()


def test_spools_left_by_a_killed_supervisor_are_drained_by_plain_serve(tmp_path):
    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port, env={**WORKERS, "TRACKER_FLUSH_INTERVAL": "3600"}).start()
    server.add_site("shop")
    with ThreadPoolExecutor(4) as pool:
        acked = [i for ids in pool.map(lambda _: send(server.url, "shop", 10), range(40)) for i in ids]
    # A crash of everything: the supervisor frozen so it restarts nobody, workers SIGKILLed,
    # then the supervisor SIGKILLed (its storage process stops by itself).
    supervisor = server.proc.pid
    workers = workers_of(supervisor)
    os.kill(supervisor, signal.SIGSTOP)
    for pid in workers.values():
        os.kill(pid, signal.SIGKILL)
    os.kill(supervisor, signal.SIGKILL)
    server.proc.wait()
    server.proc = None
    assert (data / "storage.json").exists(), "a stale storage.json is left"
    assert spooled_ids(data / "spool" / "w0") | spooled_ids(data / "spool" / "w1") == set(acked)
    plain = TrackerServer(data, port).start()  # one process: it must flush w0 and w1 itself
    assert not (data / "storage.json").exists()
    stored = {r["event_id"] for r in plain.stored("SELECT event_id FROM events FINAL WHERE site = {site:String}", site="shop")}
    assert stored == set(acked)
    assert not (data / "spool" / "w0").exists() and not (data / "spool" / "w1").exists()


def test_a_port_taken_fails_before_any_token_and_workers_must_be_positive(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        r = tracker_cli("serve", "--workers", "2", "--port", str(port), "--data", str(tmp_path / "d"))
    assert r.returncode == 1 and "cannot listen" in r.stderr and "trk_" not in r.stdout
    assert not (tmp_path / "d" / "cli_token").exists()
    r = tracker_cli("serve", "--workers", "0", "--data", str(tmp_path / "d"))
    assert r.returncode == 1 and "--workers" in r.stderr


def test_the_live_spool_reached_through_a_symlink_is_no_orphan(tmp_path):
    # An operator may put the spool on a disk of its own with a symlink (<data>/spool -> /disk):
    # the live spool is kept by its resolved path, so start-up never drains (and deletes) it.
    from tracker.cli._workers import orphan_spools

    disk, root = tmp_path / "disk", tmp_path / "data" / "spool"
    disk.mkdir()
    root.parent.mkdir()
    root.symlink_to(disk)
    (disk / "00000001.open").write_bytes(b"")
    (root / "w1").mkdir()
    (root / "w1" / "00000001.ready").write_bytes(b"")
    assert orphan_spools(root, keep={disk}) == [root / "w1"]
    assert orphan_spools(root, keep={root}) == [root / "w1"]
