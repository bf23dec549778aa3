"""The corruption matrix: damaged spool files, open (left by a crash) and sealed, as a restart
finds them or as the flusher reads them. Every intact record is kept, every unreadable byte is
moved to the quarantine and counted, stray entries of the spool dir are never read."""

from __future__ import annotations

import os
import random
import time

import orjson
import pytest

from tests.conftest import journey_rows
from tracker.ingest.flusher import Flusher
from tracker.ingest.spool import HEADER, Spool, encode_record, read_records, scan

RECORDS = [orjson.dumps({"n": i, "pad": "x" * (40 + i * 7)}) + b"\n" for i in range(12)]


def make_spool(directory, **kw) -> Spool:
    opts = {"segment_bytes": 1 << 20, "max_bytes": 1 << 30, "fsync": True, "seal_after": 3600.0, **kw}
    return Spool(directory, **opts)


def offsets(records: list[bytes]) -> list[int]:
    out, pos = [], 0
    for r in records:
        out.append(pos)
        pos += HEADER.size + len(r)
    return out


def segment_bytes(records=RECORDS) -> bytes:
    return b"".join(encode_record(r) for r in records)


def flip(data: bytes, at: int, n: int = 3) -> bytes:
    out = bytearray(data)
    for i in range(at, at + n):
        out[i] ^= 0x5A
    return bytes(out)


R7 = offsets(RECORDS)[6]  # record 7 of 12
DAMAGE = {
    "torn_tail": lambda d: d[:-5],
    "header_magic": lambda d: flip(d, R7, 2),
    "length_field": lambda d: flip(d, R7 + 2, 3),
    "length_huge": lambda d: d[:R7 + 2] + b"\xff\xff\xff\xff" + d[R7 + 6:],
    "length_short": lambda d: d[:R7 + 2] + (5).to_bytes(4, "big") + d[R7 + 6:],
    "crc_field": lambda d: flip(d, R7 + 6, 3),
    "payload": lambda d: flip(d, R7 + HEADER.size + 10, 3),
    "payload_two_records": lambda d: flip(flip(d, R7 + HEADER.size + 10), offsets(RECORDS)[9] + HEADER.size + 4),
}
LOST = {"torn_tail": [11], "payload_two_records": [6, 9]}  # which records each damage costs (default: record 7)


def stored_records(spool: Spool) -> list[bytes]:
    return [r for p in spool.ready_segments() for r in spool.read(p).records]


def quarantined(directory) -> bytes:
    q = directory / "quarantine"
    return b"".join(p.read_bytes() for p in sorted(q.iterdir())) if q.exists() else b""


@pytest.mark.parametrize("suffix", [".open", ".ready"])
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_restart_keeps_every_intact_record_and_quarantines_the_rest(tmp_path, damage, suffix, caplog):
    directory = tmp_path / "spool"
    directory.mkdir()
    original = segment_bytes()
    damaged = DAMAGE[damage](original)
    (directory / f"000000000003{suffix}").write_bytes(damaged)
    spool = make_spool(directory)
    try:
        lost = LOST.get(damage, [6])
        assert stored_records(spool) == [r for i, r in enumerate(RECORDS) if i not in lost]
        assert not list(directory.glob("*.tmp"))
        moved = quarantined(directory)
        kept = sum(HEADER.size + len(r) for i, r in enumerate(RECORDS) if i not in lost)
        assert len(moved) + kept == len(damaged), "every byte is either kept or quarantined"
        stats = spool.quarantine.stats()
        assert stats["moved_bytes"] == len(moved) == stats["bytes"] and stats["moved_regions"] == len(lost)
        assert spool.buffered_events == 12 - len(lost)
        message = " ".join(r.getMessage() for r in caplog.records)
        assert f"{12 - len(lost)}" in message and "quarantine" in message
    finally:
        spool.close()
    again = make_spool(directory)  # the repaired file reads clean: nothing moved twice
    assert len(stored_records(again)) == 12 - len(LOST.get(damage, [6]))
    assert again.quarantine.stats()["moved_bytes"] == 0 and again.quarantine.stats()["bytes"] == len(moved)
    again.close()


def test_zero_length_garbage_and_stray_entries(tmp_path):
    directory = tmp_path / "spool"
    directory.mkdir()
    (directory / "000000000001.open").write_bytes(b"")
    (directory / "000000000002.ready").write_bytes(b"")
    garbage = random.Random(7).randbytes(5000)
    (directory / "000000000003.ready").write_bytes(garbage)
    (directory / "000000000004.ready").write_bytes(segment_bytes(RECORDS[:3]))
    (directory / "000000000005.tmp").write_bytes(b"a rewrite cut by a crash")
    (directory / "notes.txt").write_text("an operator's note")
    (directory / "backup.ready").write_bytes(segment_bytes(RECORDS[3:4]))  # not a segment name
    (directory / "000000000099.ready").mkdir()  # a directory with a segment's name
    os.symlink("/etc/hostname", directory / "000000000098.ready")
    spool = make_spool(directory)
    try:
        assert stored_records(spool) == RECORDS[:3]
        assert quarantined(directory) == garbage
        assert not (directory / "000000000001.open").exists() and not (directory / "000000000002.ready").exists()
        assert not (directory / "000000000005.tmp").exists()
        for stray in ("notes.txt", "backup.ready", "000000000099.ready", "000000000098.ready"):
            assert (directory / stray).exists(), f"{stray} is not ours to remove"
        spool.append_sync(b'{"after":1}\n')
        spool.request_seal()
        assert stored_records(spool) == [*RECORDS[:3], b'{"after":1}\n']
    finally:
        spool.close()


def test_the_scanner_finds_records_after_any_single_damaged_byte():
    data = segment_bytes()
    rng = random.Random(12)
    for _ in range(300):
        at = rng.randrange(len(data))
        damaged = data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
        found = scan(damaged)
        assert len(found.records) >= 11 and set(found.records) <= set(RECORDS)
        assert sum(HEADER.size + len(r) for r in found.records) + found.damaged_bytes == len(data)
    assert read_records(data) == (RECORDS, len(data))


def test_damage_found_by_the_flusher_is_quarantined_and_the_rest_delivered(tmp_path, runtime, new_site):
    site = new_site()
    rows = journey_rows(site, {f"d{i}": [("pageview", f"/p{i}", i)] for i in range(12)}, runtime=runtime).splitlines(keepends=True)
    spool = make_spool(tmp_path / "spool")
    for row in rows:
        spool.append_sync(row)
    spool.request_seal()
    [path] = spool.ready_segments()
    path.write_bytes(flip(path.read_bytes(), offsets(rows)[6] + HEADER.size + 20))  # the disk changes it after sealing
    flusher = Flusher(runtime.storage, spool, interval=0.1, max_bytes=1 << 20)
    assert flusher.drain(20)
    spool.close()
    stored = runtime.storage.dicts("SELECT path FROM events FINAL WHERE site = {site:String} ORDER BY path", {"site": site})
    assert sorted(r["path"] for r in stored) == sorted(f"/p{i}" for i in range(12) if i != 6)
    assert spool.quarantine.stats()["moved_regions"] == 1 and spool.size_bytes == 0


@pytest.mark.slow
def test_a_served_spool_with_a_damaged_segment_reports_the_quarantine(tmp_path):
    import httpx2 as httpx

    from tests.ingest.test_process import batch, post, stored_ids
    from tests.support.servers import TrackerServer, free_port

    data, port = tmp_path / "data", free_port()
    server = TrackerServer(data, port, env={"TRACKER_FLUSH_INTERVAL": "3600"}).start()
    server.add_site("shop")
    acked = []
    for _ in range(12):
        ids, body = batch("shop", 1)
        assert post(server, body).status_code == 202
        acked.append(ids[0])
    server.proc.kill()  # SIGKILL: the 12 records stay in the open segment
    server.proc.wait()
    server.proc = None
    [path] = list((data / "spool").glob("*.open"))
    content = path.read_bytes()
    records = read_records(content)[0]
    assert len(records) == 12
    path.write_bytes(flip(content, offsets(records)[6] + HEADER.size + 30))
    again = TrackerServer(data, port).start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ready = httpx.get(again.url + "/readyz", timeout=5).json()
        if ready["buffer"]["buffered_events"] == 0:
            break
        time.sleep(0.1)
    assert ready["buffer"]["quarantine"]["moved_regions"] == 1 and ready["buffer"]["quarantine"]["bytes"] == HEADER.size + len(records[6])
    assert stored_ids(again, "shop") == set(acked) - {orjson.loads(records[6])["event_id"]}
    assert "1 damaged region(s)" in again.log.read_text() and "11 intact records kept" in again.log.read_text()
