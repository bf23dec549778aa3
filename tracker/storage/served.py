"""`<data>/storage.json`: an embedded data dir whose engine is being served over loopback HTTP.

`tracker serve --workers N` on the embedded default cannot let N processes open the chDB dir
(one process per dir), so its supervisor runs the engine as a private storage process
(`tracker.storage.server_process`, loopback only, on the dir's own `clickhouse/` path) and
records here how to reach it: the supervisor's pid, the storage process's pid and node dir,
and the DSN with the password of the private user (the file is 0600, like the data). Anything
that would open that data dir's embedded store — a CLI command that finds no answering server,
a script — uses the DSN instead (`resolve`). The supervisor removes the file on a clean stop;
a file whose supervisor is gone is stale (`clear_stale` stops a storage process it left).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import orjson

from tracker.config import Settings

STORAGE_FILE = "storage.json"
STORAGE_NODE_DIR = "storage"  # config, users file, fifo and log of the private storage process
PROCESS_MARK = b"tracker.storage.server_process"


def pid_alive(pid: int) -> bool:
    """The process `pid` exists (ours or another user's)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(data_dir: Path) -> dict | None:
    try:
        info = orjson.loads((data_dir / STORAGE_FILE).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    return info if isinstance(info, dict) else None


def write(data_dir: Path, *, dsn: str, storage_pid: int, node_dir: Path) -> Path:
    """Record the private storage process of this (supervisor) process."""
    path = data_dir / STORAGE_FILE
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps({"pid": os.getpid(), "storage_pid": storage_pid, "dsn": dsn, "node_dir": str(node_dir)}))
    os.replace(tmp, path)
    return path


def remove(data_dir: Path) -> None:
    (data_dir / STORAGE_FILE).unlink(missing_ok=True)


def live(data_dir: Path) -> dict | None:
    """The record of a running supervisor's storage process, or None (absent or stale)."""
    info = _read(data_dir)
    if info and pid_alive(int(info.get("pid", 0))) and pid_alive(int(info.get("storage_pid", 0))):
        return info
    return None


def resolve(settings: Settings) -> Settings:
    """`settings` with the served DSN when its data dir's embedded store is being served."""
    if settings.dsn:
        return settings
    info = live(settings.data_dir.resolve())
    return settings.replace(dsn=info["dsn"]) if info else settings


def clear_stale(data_dir: Path, timeout: float = 15.0) -> None:
    """Remove a storage.json whose supervisor is gone, first stopping its storage process if
    that is still running (it holds the chDB dir's lock)."""
    info = _read(data_dir)
    if info is None or pid_alive(int(info.get("pid", 0))):
        return
    pid = int(info.get("storage_pid", 0))
    if pid_alive(pid) and _is_storage_process(pid):
        fifo = Path(str(info.get("node_dir", ""))) / "stop.fifo"
        with contextlib.suppress(OSError):
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            try:
                os.write(fd, b"stop\n")
            finally:
                os.close(fd)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
    remove(data_dir)


def _is_storage_process(pid: int) -> bool:
    try:
        return PROCESS_MARK in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
