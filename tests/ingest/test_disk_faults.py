"""A full or failing disk under the spool: 503 + Retry-After within a short deadline, nothing
acknowledged that is not stored, /readyz false with the reason, one log line per change of
state, and recovery by itself when space returns.

The full disk is real: a small tmpfs mounted on the spool directory (the tests run as root;
without the permission to mount they skip, saying so). A failing fsync cannot be produced on
tmpfs, so that one case replaces `os.fsync` in the spool module with one that raises EIO — a
fault injected at the system-call seam, the spool's own code runs unchanged.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import threading
import time

import httpx2 as httpx
import pytest

from tests.ingest.test_process import batch, stored_ids
from tests.support.servers import TrackerServer, free_port
from tracker.ingest.spool import Spool, SpoolUnavailable
from tracker.ingest.spool import core as spool_core

TEXT = {"Content-Type": "text/plain"}


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs; yields its mount point, unmounted afterwards."""
    target = tmp_path / "disk"
    target.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(target)], capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip() or 'mount failed'}): the full-disk tests need it")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def fill(disk) -> os.PathLike:
    """Fill the disk to the last byte with a ballast file; returns its path."""
    ballast = disk / "ballast"
    chunk = b"\0" * 65536
    with open(ballast, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    with open(ballast, "ab", buffering=0) as fh:  # the last partial page
        try:
            while True:
                fh.write(b"\0" * 512)
        except OSError:
            pass
    return ballast


@pytest.mark.slow
def test_a_full_disk_answers_503_quickly_and_recovers_by_itself(tmp_path, small_disk):
    data, port = tmp_path / "data", free_port()
    (data / "spool").parent.mkdir(parents=True)
    os.symlink(small_disk, data / "spool")  # the spool dir lives on the small disk
    server = TrackerServer(data, port, env={"TRACKER_FLUSH_INTERVAL": "3600"}).start()
    server.add_site("shop")
    acked: list[str] = []
    with httpx.Client(timeout=15) as client:
        def post() -> tuple[httpx.Response, float, list[str]]:
            ids, body = batch("shop", 3)
            started = time.monotonic()
            r = client.post(server.url + "/api/collect", content=body, headers=TEXT)
            return r, time.monotonic() - started, ids

        for _ in range(5):
            r, _, ids = post()
            assert r.status_code == 202
            acked += ids
        ballast = fill(small_disk)
        refused = 0
        for _ in range(30):
            r, took, ids = post()
            assert took < 6, f"collect took {took:.1f}s on a full disk"
            if r.status_code == 202:
                acked += ids  # the last free bytes of a page
                continue
            assert r.status_code == 503 and int(r.headers["retry-after"]) > 0 and "error" in r.json()
            refused += 1
        assert refused >= 25, "a full disk must refuse collect"
        ready = client.get(server.url + "/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["buffer"]["disk_fault"] and "full" in body["buffer"]["disk_fault"] and body["reasons"]
        assert body["ingest"]["dropped_requests"]["spool_unavailable"] >= 25
        os.unlink(ballast)  # space returns
        deadline = time.monotonic() + 10
        while True:
            r, _, ids = post()
            if r.status_code == 202:
                acked += ids
                break
            assert time.monotonic() < deadline, "collect did not recover after space returned"
            time.sleep(0.2)
        for _ in range(5):
            r, _, ids = post()
            assert r.status_code == 202
            acked += ids
        assert client.get(server.url + "/readyz").json()["buffer"]["disk_fault"] is None
    assert set(acked) <= stored_ids(server, "shop"), "acknowledged events were lost"
    log = server.log.read_text()
    assert "Traceback" not in log
    assert log.count("collect answers 503") == 1 and log.count("writes succeed again") == 1, log[-3000:]


def test_a_failing_fsync_fails_the_waiters_and_recovers(tmp_path, monkeypatch, caplog):
    spool = Spool(tmp_path / "spool", segment_bytes=1 << 20, max_bytes=1 << 30, fsync=True, seal_after=3600.0)
    real_fsync, failing = os.fsync, threading.Event()

    def fsync(fd: int) -> None:
        if failing.is_set():
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    monkeypatch.setattr(spool_core.os, "fsync", fsync)
    outcomes: list[str] = []

    async def one(payload: bytes) -> None:
        try:
            await spool.wait_durable(spool.append(payload))
            outcomes.append("durable")
        except SpoolUnavailable as exc:
            outcomes.append(exc.reason)

    def run(coro) -> None:
        t = threading.Thread(target=asyncio.run, args=(coro,))
        t.start()
        t.join(10)

    run(one(b'{"ok":1}\n'))
    failing.set()
    started = time.monotonic()
    run(one(b'{"lost":1}\n'))
    assert time.monotonic() - started < 2 and "EIO" in outcomes[-1]
    with pytest.raises(SpoolUnavailable):
        spool.append(b'{"refused":1}\n')  # refused while the fault lasts
    time.sleep(0.5)  # the sync thread retries quietly
    failing.clear()
    deadline = time.monotonic() + 5
    while spool.fault and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not spool.fault
    run(one(b'{"after":1}\n'))
    assert outcomes[0] == "durable" and outcomes[-1] == "durable"
    faults = [r for r in caplog.records if "collect answers 503" in r.getMessage()]
    assert len(faults) == 1 and spool.faults == 1
    spool.request_seal()
    records = [r for p in spool.ready_segments() for r in spool.read(p).records]
    # The unacknowledged record is written on the retry (its client heard 503 and retries: the
    # event id makes that count once); nothing torn, nothing out of order.
    assert records == [b'{"ok":1}\n', b'{"lost":1}\n', b'{"after":1}\n']
    spool.close()


def test_damage_found_at_start_on_a_full_disk_is_set_aside_once_space_returns(small_disk):
    from tests.ingest.test_spool_damage import RECORDS, flip, offsets, segment_bytes
    from tracker.ingest.spool import HEADER

    directory = small_disk / "spool"
    directory.mkdir()
    (directory / "000000000001.open").write_bytes(flip(segment_bytes(), offsets(RECORDS)[6] + HEADER.size + 10))
    ballast = fill(small_disk)
    spool = Spool(directory, segment_bytes=1 << 20, max_bytes=1 << 30, fsync=True, seal_after=3600.0)  # starts anyway
    try:
        [path] = spool.ready_segments()
        with pytest.raises(OSError):
            spool.read(path)  # nothing is handed to the flusher before the damage is set aside
        os.unlink(ballast)
        assert spool.read(path).records == RECORDS[:6] + RECORDS[7:]
        assert spool.quarantine.stats()["moved_regions"] == 1
    finally:
        spool.close()
