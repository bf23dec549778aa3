"""Real `tracker serve` subprocesses and a tiny static server for shop pages on other origins
(their fixtures, and Debian's headless Chromium through Playwright, are in
`tests/support/browser.py`, a plugin of the root conftest: any test directory may use them).

Each test gets its own server on its own data dir and port. What was stored is read after the
server stops (SIGTERM flushes the spool), by a short subprocess that opens that data dir with
`tracker.storage.client.Storage` — the embedded store opens in one process at a time, and
reading the table itself keeps the assertions about what is stored, not about what was sent.

Host names: Chromium resolves every `*.localhost` name to the loopback, so
`http://www.shop.localhost:P1` (the shop) and `http://t.shop.localhost:P2` (tracker) are two
origins of one site, like `www.shop.example` and `t.shop.example` in production.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP *.localhost 127.0.0.1",
]
STUB = "<script>window.tracker=window.tracker||function(){(tracker.q=tracker.q||[]).push(arguments)}</script>"
READ_EVENTS = """
import sys, orjson
from tracker.config import Settings
from tracker.storage.client import Storage
storage = Storage(Settings.load({"data_dir": sys.argv[1]}, env={}))
try:
    rows = storage.dicts(sys.argv[2], orjson.loads(sys.argv[3]))
finally:
    storage.close()
sys.stdout.buffer.write(orjson.dumps(rows, default=str))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TrackerServer:
    """`python -m tracker serve` on its own data dir and port."""

    def __init__(self, data: Path, port: int, env: dict[str, str] | None = None):
        self.data = data
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = data.parent / f"serve-{port}.log"
        self._env = {
            **os.environ,
            "TRACKER_FLUSH_INTERVAL": "0.2",
            "TRACKER_RATE_COLLECT_PER_PREFIX": "0",
            "TRACKER_RATE_COLLECT_PER_SITE": "0",
            "TRACKER_RATE_REPORTS_PER_TOKEN": "0",
            "TRACKER_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None
        self.token = ""

    def start(self) -> TrackerServer:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tracker", "serve", "--data", str(self.data), "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"tracker serve exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError("tracker serve did not answer /healthz within 60 s")
        self.token = (self.data / "cli_token").read_text().strip()
        return self

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        return httpx.request(method, self.url + path, headers={"Authorization": f"Bearer {self.token}"}, timeout=30, **kwargs)

    def add_site(self, site: str, *origins: str) -> None:
        self.api("POST", "/api/admin/sites", json={"site": site, "origins": list(origins)}).raise_for_status()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stored(self, sql: str, **params) -> list[dict]:
        """Stop the server (flushing its spool) and run one read on its data dir."""
        self.stop()
        out = subprocess.run(
            [sys.executable, "-c", READ_EVENTS, str(self.data), sql, json.dumps(params)],
            capture_output=True,
            timeout=120,
            env=self._env,
            check=False,
        )
        if out.returncode:
            raise RuntimeError(out.stderr.decode()[-2000:])
        return json.loads(out.stdout)

    def events(self, site: str) -> list[dict]:
        """Every stored event of a site, deduplicated the way reports read them (FINAL)."""
        return self.stored(
            "SELECT event_id, type, path, name, promo_id, promo_variant, order_id, toFloat64(revenue) AS revenue, coupon, "
            "vid, vid_signed, id_source, props, env_webdriver, sid, ref, has_origin "
            "FROM events FINAL WHERE site = {site:String} ORDER BY ts, client_ts",
            site=site,
        )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


class ShopServer:
    """Static shop pages on their own port: `put(name, html)`, then load `url(host, name)`."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def put(self, name: str, html: str) -> None:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html)

    def origin(self, host: str = "www.shop.localhost") -> str:
        return f"http://{host}:{self.port}"

    def url(self, name: str, host: str = "www.shop.localhost") -> str:
        return f"{self.origin(host)}/{name}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


def snippet_tag(server: TrackerServer, site: str, host: str = "t.shop.localhost", extra: str = "") -> str:
    return f'{STUB}<script defer src="http://{host}:{server.port}/snippet.js" data-site="{site}"{extra}></script>'
