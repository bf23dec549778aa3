"""`tracker privacy export|erase`, `tracker audit` and the LAST USED column of `tracker token
list`, run as real commands on their own data dir (the CLI hosts the app in-process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

ENV = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}


def tracker(data, *args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tracker", *args, "--data", str(data)],
        capture_output=True, text=True, timeout=120, env=ENV, input=stdin, check=False,
    )


def test_privacy_and_audit_commands(tmp_path):
    data = tmp_path / "data"
    lines = [
        {"type": "pageview", "id": f"e{i}", "url": "https://shop.example/", "vid": "cli-visitor" if i < 3 else "cli-other", "ts": "2026-03-02T10:00:0%dZ" % i}
        for i in range(5)
    ]
    (tmp_path / "events.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = tracker(data, "import", str(tmp_path / "events.jsonl"), "--site", "shop")
    assert out.returncode == 0, out.stderr

    out = tracker(data, "privacy", "export", "cli-visitor")
    assert out.returncode == 0, out.stderr
    exported = json.loads(out.stdout)
    assert exported["counts"]["events"] == 3 and {e["vid"] for e in exported["tables"]["events"]} == {"cli-visitor"}

    out = tracker(data, "privacy", "erase", "cli-visitor", stdin="")
    assert out.returncode == 1 and "--yes" in out.stderr  # no silent erasure without a terminal
    out = tracker(data, "privacy", "erase", "cli-visitor", "--yes")
    assert out.returncode == 0 and out.stdout.startswith("erased 3 record(s) of visitor cli-visitor"), out.stdout + out.stderr
    after = json.loads(tracker(data, "privacy", "export", "cli-visitor").stdout)
    assert sum(after["counts"].values()) == 0

    out = tracker(data, "audit", "--json", "--by", "cli-local")
    assert out.returncode == 0, out.stderr
    calls = [(r["method"], r["route"], r["status"]) for r in json.loads(out.stdout)]
    assert ("DELETE", "/api/privacy/visitors/{vid:path}", 200) in calls and ("POST", "/api/admin/import", 200) in calls
    assert "cli-visitor" not in out.stdout
    table = tracker(data, "audit", "--limit", "3")
    assert table.returncode == 0 and table.stdout.splitlines()[0].startswith("at ") and len(table.stdout.splitlines()) == 4

    listing = tracker(data, "token", "list")
    assert "last_used" in listing.stdout
    cli_row = next(line for line in listing.stdout.splitlines() if "cli-local" in line)
    assert "never" not in cli_row and "2" in cli_row.split("cli-local")[1]
