"""`tracker serve --workers N`: a supervisor, N worker processes on one socket, one storage.

The supervisor binds the listening socket itself (so a port it cannot bind fails before any
token is created) and passes it to N worker processes, each a full tracker app served by
uvicorn on that inherited socket; the kernel hands each new connection to whichever worker
accepts it first, and connections waiting in the shared backlog survive a worker's crash.
Workers are stateless apart from their spool: worker i always spools into
`<data>/spool/w<i>` (a restarted worker i recovers exactly the rows its predecessor
acknowledged), and a flock on that directory keeps two processes from ever sharing one.
Everything else they share through storage: sites, tokens, dashboard sessions (signed with the
data dir's keys), promotions, trust sets. Only worker 0 runs the trust materialisation job.

With the embedded default (`chdb://`) N processes cannot open the chDB dir, so the supervisor
runs the engine as a private storage process (`tracker.storage.server_process`) on the dir's
own `clickhouse/` path, loopback only, with a password user of its own (the password-less
`default` the engine needs is narrowed to keeping the servers up: no table, no file, no DDL;
tracker/storage/server_users.py) and records it in
`<data>/storage.json` (`tracker.storage.served`); workers and the CLI use that DSN. The same
data dir can later be served by plain `tracker serve` again: nothing is converted.

Supervision: a worker that exits unexpectedly is restarted on the same index (with a growing
pause if it keeps dying at start); SIGTERM/SIGINT stops all workers gracefully (each flushes
its spool), then the storage process, then removes storage.json and server.json. Workers
receive SIGTERM if the supervisor dies (PR_SET_PDEATHSIG), and the storage process stops by
itself. Spools no worker owns any more (left by a larger N, by plain `serve`, by a crash) are
flushed by the supervisor at start (`drain_orphans`); plain `serve` does the same for worker
spools.

Limits of this layout: rate-limit buckets live in each worker, so the per-site collect rate is
divided by N and the per-prefix and per-token rates apply per worker; a dashboard logout is
remembered by the worker that saw it (the browser's cookie is cleared and the idle limit holds).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from tracker.cli import CliError
from tracker.config import Settings
from tracker.storage import served

log = logging.getLogger("tracker.workers")

SPOOL_LOCK = ".lock"
STOP_TIMEOUT = 60.0  # a worker's graceful stop (in-flight requests, then its spool's flush)
DRAIN_TIMEOUT = 60.0
PRIVATE_USER = "tracker"


# --- the supervisor ------------------------------------------------------------------------------


def run(settings: Settings, workers: int) -> int:
    """Serve with `workers` processes until SIGTERM/SIGINT; the exit status of `serve`."""
    from tracker.cli._api import running_server, write_server_file
    from tracker.cli.serve import _url_host

    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded = settings.embedded
    if embedded:
        check_data_dir_free(data_dir)
        holder = running_server(data_dir)
        if holder:
            raise CliError(f"{data_dir} is already served by tracker serve (pid {holder['pid']}) at {holder['url']}")
    sock = bind(settings.host, settings.port)
    storage = None
    files: list[Path] = []
    try:
        dsn = settings.dsn
        if embedded:
            storage, dsn = start_private_storage(data_dir)
            files.append(served.write(data_dir, dsn=dsn, storage_pid=storage.pid, node_dir=storage.dir))
        url = f"http://{_url_host(settings.host)}:{settings.port}"
        if embedded:
            files.append(write_server_file(data_dir, url))
        first_start(settings.replace(dsn=dsn), url, workers, private=storage is not None)
        print(f"tracker listening on {url} with {workers} workers  (demo shop: {url}/demo, dashboard: {url}/dashboard)", flush=True)
        Supervisor(settings, dsn, sock, workers, storage=storage).run()
    finally:
        sock.close()
        if storage is not None:
            storage.stop()
        for path in files:
            path.unlink(missing_ok=True)
    return 0


def check_data_dir_free(data_dir: Path) -> None:
    """Refuse a data dir another supervisor serves; clear what a dead one left behind."""
    served.clear_stale(data_dir)
    info = served.live(data_dir)
    if info:
        raise CliError(f"{data_dir} is already served by tracker serve --workers (pid {info['pid']})")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise CliError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def start_private_storage(data_dir: Path):
    """The data dir's embedded store served on loopback; (ServerProcess, DSN)."""
    from tracker.storage.server_process import ServerError, ServerProcess, XmlUser

    password = secrets.token_urlsafe(24)
    user = XmlUser(PRIVATE_USER, password, ("GRANT ALL ON *.* WITH GRANT OPTION",))
    node = ServerProcess(data_dir / served.STORAGE_NODE_DIR, users=[user], data_path=data_dir / "clickhouse",
                         narrow_default=True, stop_with_parent=True)
    os.makedirs(node.dir, mode=0o700, exist_ok=True)
    try:
        node.start()
    except ServerError as exc:
        raise CliError(f"cannot serve the embedded store of {data_dir} (is another process using it?): {exc}") from None
    return node, node.dsn_for(PRIVATE_USER, password)


def first_start(settings: Settings, url: str, workers: int, *, private: bool) -> None:
    """What plain `serve` does once before serving: schema, first admin token, the CLI token,
    the demo site; and the flush of spools no worker will own."""
    from tracker.cli.serve import announce_admin_token, prepare_store
    from tracker.errors import StorageError
    from tracker.runtime import Runtime

    data_dir = settings.data_dir.resolve()
    runtime = Runtime.open(settings.replace(spool_dir=str(data_dir / "spool" / "supervisor"), trust_refresh_seconds=0))
    try:
        first_admin = None
        try:
            first_admin = prepare_store(runtime, settings, url, settings.port)
            if settings.demo:
                from tracker.seed import seed_if_empty

                seed_if_empty(runtime, site="demo")
            keep = {worker_spool(data_dir, i) for i in range(workers)} | {runtime.spool.dir.resolve()}
            drain_orphans(runtime.storage, settings, keep=keep)
        except StorageError:
            if private:  # our own storage process answered a moment ago: a real failure
                raise
            print("tracker: ClickHouse is unreachable; serving ingest into the spool until it answers", file=sys.stderr, flush=True)
        announce_admin_token(first_admin, data_dir)
    finally:
        runtime.close()


class Supervisor:
    """Starts the workers, restarts the ones that die, stops them all on a signal."""

    def __init__(self, settings: Settings, dsn: str, sock: socket.socket, workers: int, storage=None):
        self.settings = settings
        self.dsn = dsn
        self.storage = storage  # the private storage process, if any: restarted when it dies
        self.sock = sock
        self.count = workers
        self.procs: dict[int, subprocess.Popen] = {}
        self.started_at: dict[int, float] = {}
        self.pause: dict[int, float] = {}
        self.died_at: dict[int, float] = {}
        self.restarts = 0
        self._stop = threading.Event()

    def worker_env(self, index: int) -> dict[str, str]:
        data_dir = self.settings.data_dir.resolve()
        per_site = self.settings.rate_collect_per_site / self.count
        return {
            **os.environ,
            "TRACKER_DATA": str(data_dir),
            "TRACKER_DSN": self.dsn,
            "TRACKER_SPOOL_DIR": str(worker_spool(data_dir, index)),
            "TRACKER_DEMO": "0",
            "TRACKER_WORKERS": "1",
            "TRACKER_RATE_COLLECT_PER_SITE": repr(per_site),
            # One trust materialisation job is enough; worker 0 runs it.
            **({} if index == 0 else {"TRACKER_TRUST_REFRESH_SECONDS": "0"}),
        }

    def spawn(self, index: int) -> None:
        fd = self.sock.fileno()
        self.procs[index] = subprocess.Popen(
            [sys.executable, "-m", "tracker.cli._workers", str(index), str(fd), str(os.getpid())],
            pass_fds=(fd,), env=self.worker_env(index), stdin=subprocess.DEVNULL,
        )
        self.started_at[index] = time.monotonic()

    def run(self) -> None:
        previous = {s: signal.signal(s, lambda *_: self._stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            for index in range(self.count):
                self.spawn(index)
            while not self._stop.wait(0.2):
                self.check_storage()
                self.check()
        finally:
            self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def check(self) -> None:
        """Restart dead workers on their own index (and so their own spool); a worker that
        keeps dying at start waits longer each time (0.5 s doubling to 10 s)."""
        now = time.monotonic()
        for index, proc in list(self.procs.items()):
            if proc.poll() is None:
                continue
            if index not in self.died_at:
                early = now - self.started_at[index] < 10
                self.pause[index] = min(10.0, max(0.5, self.pause.get(index, 0.0) * 2)) if early else 0.0
                self.died_at[index] = now
                print(f"tracker: worker {index} (pid {proc.pid}) exited with {proc.returncode}; restarting it", file=sys.stderr, flush=True)
            if now >= self.died_at[index] + self.pause[index]:
                del self.died_at[index]
                self.restarts += 1
                self.spawn(index)

    def check_storage(self) -> None:
        """Restart a private storage process that died. Workers keep spooling meanwhile (their
        flushes back off and retry), so nothing acknowledged waits anywhere but on disk."""
        if self.storage is None or self.storage.running():
            return
        print(f"tracker: the storage process exited ({self.storage.log_tail(300)}); restarting it", file=sys.stderr, flush=True)
        old = self.storage.http_port
        try:
            self.storage.start()
        except Exception as exc:  # retried on the next round
            print(f"tracker: the storage process did not restart: {exc}", file=sys.stderr, flush=True)
            return
        moved = self.storage.http_port != old  # its port was taken meanwhile: a new DSN, workers restart on it
        self.dsn = self.dsn.replace(f":{old}", f":{self.storage.http_port}")
        served.write(self.settings.data_dir.resolve(), dsn=self.dsn, storage_pid=self.storage.pid, node_dir=self.storage.dir)
        for proc in self.procs.values() if moved else ():
            proc.send_signal(signal.SIGTERM)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for index, proc in self.procs.items():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"tracker: worker {index} did not stop in time; killed (its spool is replayed at the next start)", file=sys.stderr)
                proc.kill()
                proc.wait()


def worker_spool(data_dir: Path, index: int) -> Path:
    return data_dir / "spool" / f"w{index}"


# --- spools no process owns ----------------------------------------------------------------------


def lock_spool(directory: Path):
    """An exclusive flock on a spool directory, or None when another process holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    fh = open(directory / SPOOL_LOCK, "a")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    return fh


def orphan_spools(spool_root: Path, keep: set[Path]) -> list[Path]:
    """Spool directories under `spool_root` (itself included) that hold segments and that no
    process in `keep` (or holding their lock) owns."""
    keep = {k.resolve() for k in keep}  # the live spool may be reached through a symlink
    found = []
    candidates = [spool_root] + sorted(p for p in spool_root.iterdir() if p.is_dir()) if spool_root.is_dir() else []
    for directory in candidates:
        if directory.resolve() in keep or not (any(directory.glob("*.ready")) or any(directory.glob("*.open"))):
            continue
        found.append(directory)
    return found


def drain_orphans(storage, settings: Settings, keep: set[Path]) -> int:
    """Flush every orphaned spool into storage; the number of events flushed. A spool that
    cannot be flushed now (storage down, locked by a live process) stays for the next start."""
    from tracker.ingest.flusher import Flusher
    from tracker.ingest.spool import Spool

    root = settings.data_dir.resolve() / "spool"
    flushed = 0
    for directory in orphan_spools(root, keep):
        lock = lock_spool(directory)
        if lock is None:
            continue
        try:
            spool = Spool(directory, segment_bytes=settings.spool_segment_bytes, max_bytes=1 << 62, fsync=settings.spool_fsync,
                          seal_after=settings.flush_interval)
            events = spool.buffered_events
            try:
                done = Flusher(storage, spool, interval=settings.flush_interval, max_bytes=settings.flush_max_bytes).drain(DRAIN_TIMEOUT)
            finally:
                spool.close()
            if done:
                flushed += events
                print(f"tracker: flushed {events} events left in {directory}", file=sys.stderr, flush=True)
            else:
                print(f"tracker: could not flush {directory} now; it is kept for the next start", file=sys.stderr, flush=True)
        finally:
            lock.close()
        if done and directory != root:
            with contextlib.suppress(OSError):
                (directory / SPOOL_LOCK).unlink()
                directory.rmdir()
    return flushed


# --- one worker ----------------------------------------------------------------------------------


def worker_main(index: int, fd: int, supervisor: int) -> int:
    """Serve the app on the inherited socket `fd` until SIGTERM, then flush the spool."""
    import gc

    from tracker.app import create_app
    from tracker.cli._server import build_server
    from tracker.runtime import Runtime

    # A stop while this worker is still starting (imports, recovering its spool) is held until
    # the runtime is open, so the `finally` below flushes what the spool recovered.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    _term_with_parent(supervisor)
    settings = Settings.load()
    logging.getLogger("tracker").setLevel(settings.log_level.upper())
    lock = lock_spool(Path(settings.spool_dir))
    if lock is None:
        print(f"tracker: worker {index}: {settings.spool_dir} is still held by another process", file=sys.stderr, flush=True)
        return 3
    runtime = Runtime.open(settings)
    try:
        app = create_app(settings, runtime=runtime)
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 50)  # as in plain serve (tracker/cli/serve.py)
        signal.signal(signal.SIGTERM, _exit_on_signal)  # uvicorn's own handler while it runs
        if not stop.is_set():
            build_server(app, settings).run(sockets=[socket.socket(fileno=fd)])  # slow-client limits: tracker/cli/_server.py
    except SystemExit:
        pass
    finally:
        # Everything this worker acknowledged goes to storage before it exits, retrying a
        # storage error for a while (Flusher.stop alone gives up at the first one); what is
        # still left is replayed by the next worker with this index.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop is enough; a second must not cut the flush
        with contextlib.suppress(Exception):
            runtime.flusher.drain(timeout=30)
        runtime.close()
        lock.close()
    return 0


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(0)


def _term_with_parent(supervisor: int) -> None:
    """SIGTERM (a graceful stop) when the supervisor dies; Linux only, harmless elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != supervisor:
        os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(worker_main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
