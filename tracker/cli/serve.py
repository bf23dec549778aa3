"""tracker serve: run the service (and own the embedded data dir while it runs)."""

from __future__ import annotations

import errno
import gc
import logging
import signal
import socket
import sys

from tracker.cli import CliError, add_data_args, settings_from


def register(sub) -> None:
    p = sub.add_parser("serve", help="start the service")
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.add_argument("--demo", action="store_true", default=None, help="seed the demo site with synthetic traffic if it has none")
    p.add_argument("--workers", type=int, default=None, help="worker processes on one socket, each with its own spool (default 1, env TRACKER_WORKERS)")
    add_data_args(p, server=False)
    p.set_defaults(func=run)


def run(args) -> int:
    from tracker.app import create_app
    from tracker.cli._server import build_server
    from tracker.cli._api import running_server, write_server_file
    from tracker.errors import DataDirBusy, StorageError
    from tracker.runtime import Runtime

    from tracker.cli import _workers as workers

    settings = settings_from(args, host=args.host, port=args.port, demo=args.demo, workers=getattr(args, "workers", None))
    for handler in logging.getLogger().handlers:  # the CLI hides warnings; a server shows them
        handler.setLevel(logging.NOTSET)
    logging.getLogger("tracker").setLevel(settings.log_level.upper())
    if settings.workers < 1:
        raise CliError("--workers must be at least 1")
    if settings.workers > 1 or getattr(args, "workers", None):  # an explicit --workers 1 is supervised too
        return workers.run(settings, settings.workers)
    data_dir = settings.data_dir.resolve()
    if settings.embedded:
        workers.check_data_dir_free(data_dir)
        holder = running_server(data_dir)
        if holder:
            raise CliError(f"{data_dir} is already served by tracker serve (pid {holder['pid']}) at {holder['url']}")
    # The port first: a port that cannot be bound stops here, before a store, a token or a
    # "listening" line exists (a token printed by a server that then failed would be lost).
    sock = bind(settings.host, settings.port)
    try:
        runtime = Runtime.open(settings)
    except DataDirBusy:
        sock.close()
        raise CliError(f"the data dir {data_dir} is in use by another process; stop it first") from None
    except BaseException:
        sock.close()
        raise
    port = sock.getsockname()[1]  # --port 0: the one the system chose
    url = f"http://{_url_host(settings.host)}:{port}"
    server_file = None
    try:
        first_admin = None
        try:
            first_admin = prepare_store(runtime, settings, url, port)
            workers.drain_orphans(runtime.storage, settings, keep={runtime.spool.dir.resolve()})  # spools a `--workers` run left
            if settings.demo:
                _seed_demo(runtime)
        except StorageError:
            if settings.embedded:
                raise
            print("tracker: ClickHouse is unreachable; serving ingest into the spool until it answers", file=sys.stderr, flush=True)
        announce_admin_token(first_admin, data_dir)
        print(f"tracker listening on {url}  (start page: {url}/, demo shop: {url}/demo, dashboard: {url}/dashboard, "
              f"API docs: {url}/api/docs)", flush=True)
        if settings.embedded:
            server_file = write_server_file(data_dir, url)
        app = create_app(settings, runtime=runtime)
        # Ingest allocates many short-lived, acyclic objects per request; with the default
        # thresholds the cyclic GC ran every few requests (12% of the event loop's time in a
        # profile). Long-lived start-up objects are frozen out of its way.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 50)
        server = build_server(app, settings)  # slow-client limits: _server.py; it serves the socket bound above
        # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so the
        # spool is flushed and server.json removed below instead of dying mid-way.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            server.run(sockets=[sock])
        except SystemExit:
            pass
    finally:
        if server_file is not None:
            server_file.unlink(missing_ok=True)
        sock.close()
        runtime.close()
    return 0


def announce_admin_token(first_admin: str | None, data_dir) -> None:
    """The first start's admin token (shown once), or, on later starts, how to make another:
    a newcomer whose token scrolled away is never left without a way in."""
    if first_admin:
        print("Created the first admin token (shown once; keep it safe; it also logs you in to the dashboard):", flush=True)
        print(f"  {first_admin}", flush=True)
    else:
        print(f"The admin token was printed on the first start of {data_dir}. Lost it? Make another "
              f"(from another terminal, while this runs):\n  tracker token create --role admin --name NAME --data {data_dir}",
              flush=True)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a CliError saying why not (a busy port names itself)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise CliError(f"cannot listen on {where}: the port is in use (another tracker serve?); "
                           "stop that or choose another --port (make run PORT=…)") from None
        raise CliError(f"cannot listen on {where}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)  # uvicorn's worker processes (if any) serve the same socket
    return sock


def _exit_on_signal(signum, frame) -> None:
    raise SystemExit(0)


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def prepare_store(runtime, settings, url: str, port: int) -> str | None:
    """Once per start, before serving (plain `serve` and the `--workers` supervisor): the first
    admin token (returned, to be shown once), the CLI's own token, the demo site with this
    server's origins."""
    from tracker.cli._api import ensure_cli_token

    first_admin = None
    if runtime.tokens.count_admins() == 0:
        first_admin, _ = runtime.tokens.create(role="admin", name="admin")
    ensure_cli_token(runtime)
    origins = [url, f"http://localhost:{port}", f"http://127.0.0.1:{port}"] + ([settings.public_url] if settings.public_url else [])
    runtime.sites.ensure("demo", list(dict.fromkeys(origins)))
    return first_admin


def _seed_demo(runtime) -> None:
    from tracker.seed import seed_if_empty  # imported only for --demo: the traffic model is large

    seed_if_empty(runtime, site="demo")
