"""The command line's own words: help that lists the options that matter, unknown options
refused, one origin listed once. Real `tracker` subprocesses in a fresh working directory."""

from __future__ import annotations

import subprocess
import sys


def tracker(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_serve_help_lists_where_the_data_is(tmp_path):
    out = tracker("serve", "--help", cwd=tmp_path)
    assert out.returncode == 0
    assert "--data DIR" in out.stdout and "--dsn DSN" in out.stdout and "--port" in out.stdout
    assert "--server" not in out.stdout  # serve is the server


def test_every_command_refuses_an_unknown_option(tmp_path):
    for command in (["serve"], ["site", "list"], ["token", "list"], ["trust", "visitors", "--site", "s"], ["audit"],
                    ["report", "pages", "--site", "s"], ["import", "f.jsonl", "--site", "s"]):
        out = tracker(*command, "--colour", "red", cwd=tmp_path)
        assert out.returncode == 2 and "unrecognized arguments: --colour red" in out.stderr, (command, out.stderr)
    assert list(tmp_path.iterdir()) == []


def test_dates_are_named_dates_in_help(tmp_path):
    for command in (["report", "overview"], ["trust", "visitors"], ["audit"]):
        out = tracker(*command, "--help", cwd=tmp_path)
        assert "FROM_" not in out.stdout and ("--from DATE" in out.stdout or "--since DATE" in out.stdout), command


def test_site_list_shows_each_origin_once(tmp_path):
    added = tracker("site", "add", "shop", "--origin", "https://www.shop.example", "--origin", "https://www.shop.example/",
                    "--data", str(tmp_path / "d"), cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert added.stdout.count("https://www.shop.example") == 1
    listed = tracker("site", "list", "--data", str(tmp_path / "d"), cwd=tmp_path)
    assert listed.stdout.splitlines() == ["site  origins                   revenue ceiling",
                                          "shop  https://www.shop.example  automatic"]


def test_token_create_help_shows_what_a_shop_backend_sends(tmp_path):
    out = tracker("token", "create", "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "--role ingest" in out.stdout and "curl -sS -X POST https://t.shop.example/api/orders" in out.stdout
    assert "Authorization: Bearer TOKEN" in out.stdout and '"status": "paid"' in out.stdout
    assert "docs/orders.md" in out.stdout
    assert list(tmp_path.iterdir()) == []
