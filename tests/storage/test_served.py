"""`<data>/storage.json`: found while its supervisor lives, ignored and cleared once it is gone."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson

from tracker.config import Settings
from tracker.storage import served


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_live_record_gives_its_dsn_and_a_stale_one_is_cleared(tmp_path):
    settings = Settings.load({"data_dir": str(tmp_path)}, env={})
    assert served.resolve(settings) is settings  # no file: the embedded store
    served.write(tmp_path, dsn="http://tracker:pw@127.0.0.1:1", storage_pid=os.getpid(), node_dir=tmp_path / "storage")
    assert oct((tmp_path / served.STORAGE_FILE).stat().st_mode & 0o777) == "0o600"
    resolved = served.resolve(settings)
    assert resolved.dsn == "http://tracker:pw@127.0.0.1:1" and not resolved.embedded
    served.clear_stale(tmp_path)  # its supervisor (this process) lives: kept
    assert served.live(tmp_path)
    explicit = Settings.load({"data_dir": str(tmp_path), "dsn": "http://elsewhere:8123"}, env={})
    assert served.resolve(explicit) is explicit  # an explicit DSN wins
    info = record(tmp_path)
    info["pid"] = dead_pid()
    (tmp_path / served.STORAGE_FILE).write_bytes(orjson.dumps(info))
    assert served.live(tmp_path) is None and served.resolve(settings) is settings
    served.clear_stale(tmp_path)  # the storage pid is not a storage process: only the file goes
    assert not (tmp_path / served.STORAGE_FILE).exists()


def record(data_dir):
    return orjson.loads((data_dir / served.STORAGE_FILE).read_bytes())
