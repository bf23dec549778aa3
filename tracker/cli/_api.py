"""How the CLI reaches the data: through the running server, or in-process.

An embedded data dir opens in one process only. `serve` records itself in
`<data>/server.json` (pid, URL); the CLI then sends its request to that server's API with the
local admin token kept in `<data>/cli_token` (readable only by the owner of the data dir, who
can read all the data anyway). With no live server, the CLI hosts the very same app
in-process (so every command has one implementation: the API) and closes it on exit. A dir
locked by some other process is a clear error naming it, never a storage stack trace.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2 as httpx
import orjson

from tracker.cli import CliError
from tracker.config import Settings
from tracker.errors import DataDirBusy, StorageError
from tracker.storage.served import pid_alive

SERVER_FILE = "server.json"
CLI_TOKEN_FILE = "cli_token"


def running_server(data_dir: Path) -> dict | None:
    path = data_dir / SERVER_FILE
    try:
        info = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    if not isinstance(info, dict) or not pid_alive(int(info.get("pid", 0))):
        return None
    return info


def write_server_file(data_dir: Path, url: str) -> Path:
    path = data_dir / SERVER_FILE
    path.write_bytes(orjson.dumps({"pid": os.getpid(), "url": url}))
    return path


def read_cli_token(data_dir: Path) -> str | None:
    try:
        return (data_dir / CLI_TOKEN_FILE).read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_cli_token(runtime) -> str:
    """The local admin token the CLI uses; created on first need."""
    data_dir = runtime.settings.data_dir.resolve()
    token = read_cli_token(data_dir)
    if token and runtime.tokens.verify(token):
        return token
    token, _ = runtime.tokens.create(role="admin", name="cli-local")
    path = data_dir / CLI_TOKEN_FILE
    path.write_text(token + "\n")
    os.chmod(path, 0o600)
    return token


class Api:
    def __init__(self, client: httpx.Client, token: str, where: str, *, remote: bool = True):
        self._client = client
        self._remote = remote
        self._token = token
        self.where = where

    def request(self, method: str, path: str, *, params: dict | None = None, json: Any = None, content: bytes | None = None,
                timeout: float = 600) -> Any:
        headers = {"Authorization": f"Bearer {self._token}"}
        if json is not None:
            content = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            extra = {"timeout": timeout} if self._remote else {}
            response = self._client.request(method, path, params=clean, content=content, headers=headers, **extra)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach tracker at {self.where}: {_short(exc)}") from None
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:200]}
        if response.status_code == 401:
            raise CliError(f"tracker at {self.where} refused the token: {body.get('error') if isinstance(body, dict) else 'unauthorized'}"
                           " (--token / TRACKER_TOKEN)")
        if response.status_code >= 400:
            raise CliError(body.get("error", f"HTTP {response.status_code}") if isinstance(body, dict) else f"HTTP {response.status_code}")
        return body


def store_at(settings: Settings) -> Path | None:
    """Where the data dir's store lives, when there is one: the embedded ClickHouse dir, or
    (with a server DSN) the data dir itself (spool, secrets, the CLI token)."""
    data_dir = settings.data_dir.resolve()
    path = data_dir / "clickhouse" if settings.embedded else data_dir
    return path if path.is_dir() else None


def _no_store(settings: Settings) -> CliError:
    data_dir = settings.data_dir.resolve()
    looked = data_dir / "clickhouse" if settings.embedded else data_dir
    return CliError(f"no tracker data at {data_dir} (looked for {looked}); point to the data dir with --data DIR "
                    "(or TRACKER_DATA), or to a running server with --server URL --token TOKEN")


def _dsn_host(dsn: str) -> str:
    """scheme://host:port of a DSN, never its user or password."""
    parts = urlsplit(dsn)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def _short(exc: httpx.HTTPError) -> str:
    """One line about a transport failure (httpx nests the OS error's text)."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


@contextlib.contextmanager
def _remote(url: str, token: str, what: str) -> Iterator[Api]:
    with httpx.Client(base_url=url) as client:
        try:
            client.get("/healthz", timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {what} at {url}: {_short(exc)}") from None
        yield Api(client, token, url)


@contextlib.contextmanager
def connect(settings: Settings, *, creates: bool = False) -> Iterator[Api]:
    """An `Api` for one command: `settings.server` when set (with `settings.token`, else the
    local CLI token of the data dir that server holds), else the server holding the data dir,
    else the app in-process. A command that only reads (`creates` False) never creates a data
    dir: with none at the path it stops, naming the path; one that writes says when it starts
    a new one (it may be the wrong folder)."""
    data_dir = settings.data_dir.resolve()
    if settings.server:
        url = settings.server.rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise CliError(f"--server must be a URL like http://127.0.0.1:8000, got {settings.server!r}")
        token = settings.token or _local_token_for(data_dir, url)
        if not token:
            raise CliError(f"--server {url} needs an admin token: pass --token TOKEN or set TRACKER_TOKEN (the token "
                           "`tracker serve` printed on its first start, or a new one from `tracker token create --role admin --name cli`)")
        with _remote(url, token, "tracker") as api:
            yield api
        return
    server = running_server(data_dir) if settings.embedded else None
    if server:
        token = read_cli_token(data_dir)
        if not token:
            raise CliError(f"tracker serve (pid {server['pid']}) holds {data_dir} but {data_dir / CLI_TOKEN_FILE} is missing; "
                           "restart the server")
        with _remote(server["url"], token, f"tracker serve (pid {server['pid']}), which holds {data_dir},") as api:
            yield api
        return
    if store_at(settings) is None:
        if not creates:
            raise _no_store(settings)
        print(f"tracker: no data at {data_dir}: creating a new store there", file=sys.stderr, flush=True)
    with _in_process(settings) as api:
        yield api


@contextlib.contextmanager
def _in_process(settings: Settings) -> Iterator[Api]:
    from starlette.testclient import TestClient

    from tracker.app import create_app
    from tracker.runtime import Runtime
    from tracker.storage import served

    data_dir = settings.data_dir.resolve()
    if settings.embedded:
        # The dir's engine served by `serve --workers` (its API not answering yet): use that
        # storage, with a spool of this command's own, instead of the locked chDB dir.
        served.clear_stale(data_dir)
        resolved = served.resolve(settings)
        if resolved is not settings:
            settings = resolved.replace(spool_dir=str(data_dir / "spool" / f"cli-{os.getpid()}"))
    else:
        _check_reachable(settings)  # before the runtime writes its secrets and spool into the data dir
    # A one-shot command runs no background trust work: a trusted report it asks for evaluates its
    # own range on first ask, and the server (when one starts) keeps the store's trust fresh. A
    # pinned 30-day evaluation started at open made closing wait for it (26 s at 3M events).
    settings = settings.replace(trust_refresh_seconds=0, trust_live_seconds=0)
    try:
        runtime = Runtime.open(settings)
    except DataDirBusy:
        raise CliError(f"the data dir {data_dir} is in use by another process{_holder(data_dir)}; "
                       "stop it or run this command against its server (--server URL)") from None
    except StorageError as exc:
        raise CliError(f"cannot open the store at {settings.effective_dsn if settings.embedded else _dsn_host(settings.dsn)}: "
                       f"{exc.message}") from None
    try:
        token = ensure_cli_token(runtime)
        app = create_app(settings, runtime=runtime)
        with TestClient(app, base_url="http://tracker.local") as client:
            yield Api(client, token, f"{data_dir} (in-process)", remote=False)
    finally:
        runtime.close()


def _check_reachable(settings: Settings) -> None:
    from tracker.storage.client import Storage

    storage = Storage(settings)
    try:
        if not storage.ping():
            raise CliError(f"cannot reach ClickHouse at {_dsn_host(settings.dsn)} (TRACKER_DSN / --dsn); is it running?")
    finally:
        storage.close()


def _local_token_for(data_dir: Path, url: str) -> str | None:
    """The data dir's CLI token when the server at `url` is the one holding that dir."""
    server = running_server(data_dir)
    if server and server.get("url", "").rstrip("/") == url:
        return read_cli_token(data_dir)
    return None


def _holder(data_dir: Path) -> str:
    status = data_dir / "clickhouse" / "status"
    try:
        text = status.read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        if line.strip().lower().startswith("pid"):
            return f" (pid {line.split(':', 1)[-1].strip()})"
    return ""
