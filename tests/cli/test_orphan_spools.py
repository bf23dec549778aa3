"""Spools no process owns any more (a larger `--workers` N, plain serve, a crashed CLI) are
flushed into storage and removed; live and kept spools are left alone."""

from __future__ import annotations

import time
import uuid

import orjson

from tracker.cli._workers import drain_orphans, lock_spool, orphan_spools
from tracker.ingest.spool import Spool


def spool_rows(directory, site: str, n: int) -> list[str]:
    ids = [uuid.uuid4().hex for _ in range(n)]
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    spool = Spool(directory, segment_bytes=1 << 20, max_bytes=1 << 30, fsync=True, seal_after=3600)
    try:
        spool.append_sync(b"".join(orjson.dumps({"site": site, "event_id": i, "type": "pageview", "vid": "v1", "ts": now}) + b"\n" for i in ids))
    finally:
        spool.close()
    return ids


def test_orphaned_spools_are_flushed_and_removed_kept_and_locked_ones_stay(settings, storage, tmp_path):
    site = f"orphans-{uuid.uuid4().hex[:8]}"
    data = settings.replace(data_dir=tmp_path)
    root = tmp_path / "spool"
    left_by_more_workers = spool_rows(root / "w2", site, 5)
    left_by_plain_serve = spool_rows(root, site, 3)
    kept = spool_rows(root / "w0", site, 4)
    locked = spool_rows(root / "w1", site, 2)
    holder = lock_spool(root / "w1")  # as a live worker holds its own
    try:
        assert set(orphan_spools(root, keep={root / "w0"})) == {root, root / "w1", root / "w2"}
        flushed = drain_orphans(storage, data, keep={root / "w0"})
    finally:
        holder.close()
    assert flushed == 8
    stored = {r[0] for r in storage.query("SELECT event_id FROM events FINAL WHERE site = {site:String}", {"site": site}).rows}
    assert stored == set(left_by_more_workers) | set(left_by_plain_serve)
    assert not set(kept) & stored and not set(locked) & stored
    assert not (root / "w2").exists() and (root / "w0").exists() and (root / "w1").exists()
