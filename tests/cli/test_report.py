"""`tracker seed` and `tracker report` as a user runs them: a subprocess with its own data dir
(the test session's chDB dir belongs to this process)."""

import json
import subprocess
import sys

from tracker.cli import build_parser
from tracker.cli._table import render_table
from tracker.cli.report import query_of, render


def tracker(*args: str, data) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", *args, "--data", str(data)], capture_output=True, text=True, timeout=300)


def test_seed_then_report_overview(tmp_path):
    seeded = tracker("seed", "--site", "demo", "--visitors", "200", "--days", "2", data=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert "seeded" in seeded.stdout and "ground truth" in seeded.stdout
    as_json = tracker("report", "overview", "--site", "demo", "--traffic", "all", "--json", data=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    body = json.loads(as_json.stdout)
    assert body["visitors"] == 200 and body["pageviews"] > 200 and body["excluded_visitors"] == 0
    assert len(body["timeseries"]) == 30
    table_out = tracker("report", "funnel", "--site", "demo", "--steps", '[{"type":"pageview"},{"type":"purchase"}]', "--window", "86400", data=tmp_path)
    assert table_out.returncode == 0, table_out.stderr
    assert "conversion_from_start" in table_out.stdout and "steps:" in table_out.stdout
    # --filter, repeated: both must hold; the sum over devices is the whole.
    by_device = {d: json.loads(tracker("report", "overview", "--site", "demo", "--traffic", "all", "--filter", f"device:{d}", "--json", data=tmp_path).stdout)
                 for d in ("desktop", "mobile", "tablet", "other", "bot")}
    assert sum(b["sessions"] for b in by_device.values()) == body["sessions"] and 0 < by_device["mobile"]["sessions"] < body["sessions"]
    both = json.loads(tracker("report", "sources", "--site", "demo", "--traffic", "all", "--filter", "device:mobile", "--filter", "source:(direct)", "--json",
                              data=tmp_path).stdout)
    assert both["filters"] == ["device:mobile", "source:(direct)"] and [r["source"] for r in both["rows"]] == ["(direct)"]
    unknown = tracker("report", "overview", "--site", "demo", "--filter", "country:fr", data=tmp_path)
    assert unknown.returncode == 1 and "DIM one of" in unknown.stderr
    bad = tracker("report", "funnel", "--site", "demo", "--steps", "[", data=tmp_path)
    assert bad.returncode == 1 and "steps is not valid JSON" in bad.stderr


def test_report_options_come_from_the_declared_params():
    args = build_parser().parse_args(["report", "promotions", "--site", "s", "--lookback-days=7", "--model", "linear", "--from", "2026-01-01"])
    assert query_of(args) == {"site": "s", "from": "2026-01-01", "model": "linear", "lookback_days": "7"}


def test_unknown_report_options_are_an_error(tmp_path):
    typo = tracker("report", "overview", "--site", "demo", "--frm", "2026-01-01", data=tmp_path)
    assert typo.returncode == 2 and "unrecognized arguments: --frm 2026-01-01" in typo.stderr
    bad_choice = tracker("report", "promotions", "--site", "demo", "--model", "newest", data=tmp_path)
    assert bad_choice.returncode == 2 and "invalid choice: 'newest'" in bad_choice.stderr
    helped = tracker("report", "paths", "--help", data=tmp_path)
    assert helped.returncode == 0 and "--from DATE" in helped.stdout and "--start PATH" in helped.stdout and "--data DIR" in helped.stdout


def test_render_tables():
    text = render({"site": "s", "visitors": 3, "rate": 0.25, "rows": [{"path": "/", "pageviews": 10}, {"path": "/cart", "pageviews": 2}]})
    assert "visitors  3\n" in text and "rate      0.25\n" in text
    assert "rows:\npath   pageviews\n/             10\n/cart          2\n" in text  # numbers right-aligned, no trailing spaces
    assert render_table(["a"], []) == "a\n"
    assert "median  nan\n" in render({"median": float("nan"), "none": None})
    assert render({"median": 1.5, "none": None}) == "median  1.5\nnone      -\n"  # a numeric column is right-aligned


def test_tables_are_styled_on_a_terminal_only(tmp_path):
    import os
    import pty

    seeded = tracker("site", "add", "shop", "--origin", "https://www.shop.example", data=tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    piped = tracker("token", "list", data=tmp_path)
    assert piped.returncode == 0 and "\x1b[" not in piped.stdout and "─" not in piped.stdout
    assert piped.stdout.splitlines()[0].split() == ["token_id", "role", "name", "sites", "created_at", "last_used", "revoked_at"]
    main, child = pty.openpty()
    proc = subprocess.run([sys.executable, "-m", "tracker", "token", "list", "--data", str(tmp_path)], stdout=child,
                          stderr=subprocess.PIPE, timeout=300, env={**os.environ, "COLUMNS": "200"})
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert proc.returncode == 0, proc.stderr
    assert "\x1b[1m" in out.decode() and "─" in out.decode()  # bold header over a rule
