"""A newcomer's first run, as they would do it: the real `tracker` CLI and `tracker serve` as
subprocesses, each in a fresh temporary directory as the working directory, with none of
the `TRACKER_*` variables of the test session.

- read-only commands never create a store; they name the path they looked at;
- an unreachable ClickHouse or tracker server is one clear line and creates nothing;
- the CLI reaches a server by `--data`, `TRACKER_DATA` or `--server URL --token`;
- an unknown site is a 404 in the API and a clear error in the CLI;
- `tracker serve` on a busy port fails before any token exists; a restart says how to make one.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.support.servers import TrackerServer, free_port

pytestmark = pytest.mark.slow

READ_ONLY = [
    ["report", "overview", "--site", "demo"],
    ["site", "list"],
    ["token", "list"],
    ["trust", "visitors", "--site", "demo"],
    ["audit"],
    ["promo", "list", "--site", "demo"],
    ["privacy", "export", "v1"],
]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    return {**env, **extra}


def tracker(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=cwd, env=env or clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def files_under(path: Path) -> list[Path]:
    return sorted(path.rglob("*"))


@pytest.mark.parametrize("command", READ_ONLY, ids=lambda c: " ".join(c[:2]))
def test_read_only_command_creates_no_store(tmp_path, command):
    out = tracker(*command, cwd=tmp_path)
    assert out.returncode == 1, out
    assert f"no tracker data at {tmp_path / 'var'}" in out.stderr
    assert "--data DIR" in out.stderr and "--server URL" in out.stderr
    assert out.stdout == "" and files_under(tmp_path) == []


def test_read_only_command_names_the_data_dir_it_was_given(tmp_path):
    out = tracker("report", "pages", "--site", "demo", cwd=tmp_path, env=clean_env(TRACKER_DATA="elsewhere"))
    assert out.returncode == 1 and f"no tracker data at {tmp_path / 'elsewhere'}" in out.stderr
    assert files_under(tmp_path) == []


def test_unreachable_clickhouse_is_one_line_and_creates_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    env = clean_env(TRACKER_DSN=f"http://127.0.0.1:{free_port()}")
    out = tracker("--data", str(data), "report", "overview", "--site", "demo", cwd=tmp_path, env=env)
    assert out.returncode == 1
    assert out.stderr.startswith("tracker: cannot reach ClickHouse at http://127.0.0.1:") and out.stderr.count("\n") == 1, out.stderr
    assert "urllib3" not in out.stderr and "spool" not in out.stderr
    assert files_under(tmp_path) == [data]


def test_unreachable_server_is_one_line_and_creates_nothing(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    out = tracker("report", "overview", "--site", "demo", "--server", url, "--token", "trk_x", cwd=tmp_path)
    assert out.returncode == 1 and out.stderr.startswith(f"tracker: cannot reach tracker at {url}: ") and out.stderr.count("\n") == 1
    no_token = tracker("--server", url, "site", "list", cwd=tmp_path)
    assert no_token.returncode == 1 and "needs an admin token" in no_token.stderr and "TRACKER_TOKEN" in no_token.stderr
    assert files_under(tmp_path) == []


def test_a_writing_command_says_it_starts_a_new_store(tmp_path):
    added = tracker("site", "add", "shop", "--origin", "https://www.shop.example", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert f"no data at {tmp_path / 'var'}: creating a new store there" in added.stderr
    listed = tracker("site", "list", cwd=tmp_path)
    assert listed.returncode == 0 and "shop" in listed.stdout and "https://www.shop.example" in listed.stdout
    assert "creating" not in listed.stderr


def test_cli_reaches_a_server_by_data_env_or_url(tmp_path):
    server = TrackerServer(tmp_path / "shop-data", free_port()).start()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        printed = re.search(r"Created the first admin token.*\n  (trk_\S+)\n", server.log.read_text())
        assert printed, server.log.read_text()
        admin = printed.group(1)
        lost = tracker("report", "overview", "--site", "demo", cwd=elsewhere)
        assert lost.returncode == 1 and f"no tracker data at {elsewhere / 'var'}" in lost.stderr
        by_flag = tracker("--data", str(server.data), "report", "overview", "--site", "demo", "--json", cwd=elsewhere)
        by_env = tracker("report", "overview", "--site", "demo", "--json", cwd=elsewhere, env=clean_env(TRACKER_DATA=str(server.data)))
        by_url = tracker("report", "overview", "--site", "demo", "--json", "--server", server.url, "--token", admin, cwd=elsewhere)
        by_url_env = tracker("report", "overview", "--site", "demo", "--json", cwd=elsewhere,
                             env=clean_env(TRACKER_SERVER=server.url, TRACKER_TOKEN=admin))
        for out in (by_flag, by_env, by_url, by_url_env):
            assert out.returncode == 0, out.stderr
            assert '"site": "demo"' in out.stdout
        refreshed = [tracker("--data", str(server.data), "trust", "refresh", "--site", "demo", cwd=elsewhere) for _ in range(2)]
        assert [r.returncode for r in refreshed] == [0, 0], refreshed[0].stderr
        assert re.fullmatch(r"materialised \d+ day\(s\) of trust signals, built \d+ day\(s\) of session fragments\n", refreshed[0].stdout)
        assert refreshed[1].stdout == "materialised 0 day(s) of trust signals, built 0 day(s) of session fragments\n"
        refused = tracker("site", "list", "--server", server.url, "--token", "trk_not_a_token", cwd=elsewhere)
        assert refused.returncode == 1 and f"tracker at {server.url} refused the token" in refused.stderr
        unknown = tracker("--data", str(server.data), "report", "overview", "--site", "nosuch", cwd=elsewhere)
        assert unknown.returncode == 1 and unknown.stdout == ""
        assert "no site 'nosuch'" in unknown.stderr and "tracker site add nosuch" in unknown.stderr
        trust = tracker("--data", str(server.data), "trust", "visitors", "--site", "nosuch", cwd=elsewhere)
        assert trust.returncode == 1 and "no site 'nosuch'" in trust.stderr
        assert files_under(elsewhere) == []
    finally:
        server.stop()


def test_unknown_site_is_a_404_for_every_report_and_trust_route(tracker_server):
    from tracker.reports.routes import REPORTS

    paths = [f"/api/reports/{name}" for name in REPORTS]
    paths += ["/api/trust/visitors", "/api/trust/visitors/v1", "/api/trust/promotions", "/api/trust/coupons", "/api/trust/networks"]
    for path in paths:
        answer = tracker_server.api("GET", path, params={"site": "nosuch", "steps": '[{"type":"pageview"}]', "promo": "p"})
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json() == {"error": "no site 'nosuch' (register it with `tracker site add nosuch --origin URL`)"}
    refresh = tracker_server.api("POST", "/api/trust/refresh", params={"site": "nosuch"})
    assert refresh.status_code == 404
    assert tracker_server.api("GET", "/api/reports/overview", params={"site": "demo"}).status_code == 200
    assert tracker_server.api("GET", "/api/reports/overview", params={"site": "bad site!"}).status_code == 400


def serve(tmp_path: Path, data: Path, port: int, timeout: float = 60) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--data", str(data), "--port", str(port)], cwd=tmp_path,
                            env=clean_env(TRACKER_LOG_LEVEL="warning"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_listening(proc: subprocess.Popen) -> list[str]:
    """stdout lines up to and including the "listening" line."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("tracker listening on"):
            return lines
    raise AssertionError(f"serve exited: {''.join(lines)}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.communicate(timeout=60)


def test_busy_port_fails_before_any_token_then_a_restart_says_how_to_make_one(tmp_path):
    data = tmp_path / "data"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "tracker", "serve", "--data", str(data), "--port", str(port)], cwd=tmp_path,
                             env=clean_env(), capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert out.stderr == f"tracker: cannot listen on 127.0.0.1:{port}: the port is in use (another tracker serve?); " \
                         "stop that or choose another --port (make run PORT=…)\n"
    assert "trk_" not in out.stdout and "listening" not in out.stdout and not data.exists()

    port = free_port()
    first = serve(tmp_path, data, port)
    try:
        lines = wait_listening(first)
        assert lines[0].startswith("Created the first admin token")
        token = lines[1].strip()
        assert token.startswith("trk_") and lines[-1].startswith(f"tracker listening on http://127.0.0.1:{port}")
    finally:
        stop(first)
    again = serve(tmp_path, data, port)
    try:
        lines = wait_listening(again)
        text = "".join(lines)
        assert "trk_" not in text and f"tracker token create --role admin --name NAME --data {data}" in text
        answer = httpx.get(f"http://127.0.0.1:{port}/api/admin/sites", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.status_code == 200 and "demo" in answer.text  # the first start's token still works
        made = tracker("token", "create", "--role", "admin", "--name", "again", "--data", str(data), cwd=tmp_path)
        assert made.returncode == 0 and made.stdout.strip().splitlines()[-1].startswith("trk_")
    finally:
        stop(again)
