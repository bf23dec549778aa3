"""`tracker token create --role ingest --site S` as a shop's developer runs it: it prints the
curl the backend sends, the token alone on the last line, and that curl works as printed."""

from __future__ import annotations

import shlex
import subprocess
import sys


def tracker(*args: str, data) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", *args, "--data", str(data)], capture_output=True, text=True, timeout=300)


def test_ingest_token_prints_the_curl_a_backend_sends(tracker_server):
    tracker_server.add_site("cli-shop", "https://shop.example")
    made = tracker("token", "create", "--role", "ingest", "--name", "shop-backend", "--site", "cli-shop", data=tracker_server.data)
    assert made.returncode == 0, made.stderr
    lines = made.stdout.strip().splitlines()
    token = lines[-1]
    assert token.startswith("trk_") and " " not in token
    curl = " ".join(line.strip().rstrip("\\") for line in lines if "curl" in line or line.strip().startswith("-H"))
    argv = shlex.split(curl.replace("TOKEN", token).replace("https://t.shop.example", tracker_server.url))
    assert argv[0] == "curl"
    sent = subprocess.run(argv + ["-w", "\n%{http_code}"], capture_output=True, text=True, timeout=60)
    body, status = sent.stdout.rsplit("\n", 1)
    assert status == "202", sent.stdout + sent.stderr
    assert '"accepted":1' in body
    refused = tracker("token", "create", "--role", "ingest", "--name", "no-site", data=tracker_server.data)
    assert refused.returncode != 0 and "--site" in refused.stderr
    rows = tracker_server.stored("SELECT order_id, toString(revenue) AS r, coupon FROM orders WHERE site = 'cli-shop'")
    assert rows == [{"order_id": "1001", "r": "59.9", "coupon": "SAVE10"}]


def test_the_python_example_in_the_docs_works_as_written(tracker_server):
    import os
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "orders.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    tracker_server.add_site("shop", "https://shop.example")
    made = tracker_server.api("POST", "/api/admin/tokens", json={"role": "ingest", "name": "doc", "sites": ["shop"]}).json()
    env = {**os.environ, "TRACKER_URL": tracker_server.url, "TRACKER_INGEST_TOKEN": made["token"]}
    ran = subprocess.run([sys.executable, "-c", example], capture_output=True, text=True, timeout=60, env=env)
    assert ran.returncode == 0, ran.stderr
    rows = tracker_server.stored("SELECT order_id, toString(revenue) AS r, status FROM orders WHERE site = 'shop'")
    assert rows == [{"order_id": "1001", "r": "59.9", "status": "paid"}]
