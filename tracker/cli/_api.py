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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson

from tracker.cli import CliError
from tracker.config import Settings
from tracker.errors import DataDirBusy

SERVER_FILE = "server.json"
CLI_TOKEN_FILE = "cli_token"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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
            raise CliError(f"cannot reach tracker at {self.where}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = {"error": response.text[:200]}
        if response.status_code >= 400:
            raise CliError(body.get("error", f"HTTP {response.status_code}") if isinstance(body, dict) else f"HTTP {response.status_code}")
        return body


@contextlib.contextmanager
def connect(settings: Settings) -> Iterator[Api]:
    data_dir = settings.data_dir.resolve()
    server = running_server(data_dir) if settings.embedded else None
    if server:
        token = read_cli_token(data_dir)
        if not token:
            raise CliError(f"tracker serve (pid {server['pid']}) holds {data_dir} but {data_dir / CLI_TOKEN_FILE} is missing; "
                           "restart the server")
        with httpx.Client(base_url=server["url"]) as client:
            try:
                client.get("/healthz", timeout=5).raise_for_status()
            except httpx.HTTPError:
                raise CliError(f"tracker serve (pid {server['pid']}) holds {data_dir} but does not answer at {server['url']}") from None
            yield Api(client, token, server["url"])
        return
    from starlette.testclient import TestClient

    from tracker.app import create_app
    from tracker.runtime import Runtime
    from tracker.storage import served

    if settings.embedded:
        # The dir's engine served by `serve --workers` (its API not answering yet): use that
        # storage, with a spool of this command's own, instead of the locked chDB dir.
        served.clear_stale(data_dir)
        resolved = served.resolve(settings)
        if resolved is not settings:
            settings = resolved.replace(spool_dir=str(data_dir / "spool" / f"cli-{os.getpid()}"), trust_refresh_seconds=0)
    try:
        runtime = Runtime.open(settings)
    except DataDirBusy:
        raise CliError(f"the data dir {data_dir} is in use by another process{_holder(data_dir)}; "
                       "stop it or run this command against its server") from None
    try:
        token = ensure_cli_token(runtime)
        app = create_app(settings, runtime=runtime)
        with TestClient(app, base_url="http://tracker.local") as client:
            yield Api(client, token, f"{data_dir} (in-process)", remote=False)
    finally:
        runtime.close()


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
