"""`tracker seed` and `tracker report` as a user runs them: a subprocess with its own data dir
(the test session's chDB dir belongs to this process)."""

import json
import subprocess
import sys

from tracker.cli.report import extra_params, render, table


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


def test_extra_params():
    assert extra_params(["--start", "/cart", "--lookback-days=7"]) == {"start": "/cart", "lookback_days": "7"}


def test_render_tables():
    text = render({"site": "s", "visitors": 3, "rate": 0.25, "rows": [{"path": "/", "pageviews": 10}, {"path": "/cart", "pageviews": 2}]})
    assert "visitors  3" in text and "rate      0.25" in text
    assert "  path   pageviews\n" in text and "  /cart          2\n" in text
    assert table([]) == "  (no rows)\n"
    assert "nan" in render({"median": float("nan"), "none": None}) and "none    -" in render({"median": 1.5, "none": None})
