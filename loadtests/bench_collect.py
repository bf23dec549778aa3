"""Collect throughput: `tracker serve` side by side with a bare Starlette endpoint.

    .venv/bin/python loadtests/bench_collect.py [--seconds 10] [--connections 64] [--compare DIR]

`--compare DIR` adds a third server: `tracker serve` from another checkout (e.g. a `git
worktree` of an older commit, run with this venv and `PYTHONPATH=DIR`), driven in the same run
in turn with the others, so a change's cost is measured side by side on the same noisy box.

Starts both servers as subprocesses under the same uvicorn setup, drives each with wrk
(batches of 1 and 20 events, unique event ids) one after the other in the same run, and
prints events/s, p50/p99 latency and the ratio to the ceiling. At the end it stops tracker
(SIGTERM flushes the spool) and checks that every acknowledged event was stored.
Needs `wrk` (Debian package). The machine is shared and noisy: compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_up(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.post(url + "/api/collect", content=b'{"site":"demo","events":[]}', headers={"Content-Type": "text/plain"}, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"server at {url} did not come up")


def wrk(url: str, batch: int, seconds: int, connections: int, run: str) -> dict:
    env = {**os.environ, "BATCH": str(batch), "RUN": run}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(HERE / "collect.lua"), url],
        capture_output=True, text=True, env=env, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {"rps": rps, "events": rps * batch, "p50": pct("50"), "p99": pct("99"), "requests": total,
            "non2xx": int(non2xx.group(1)) if non2xx else 0, "errors": errors.group(1) if errors else ""}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--batches", default="1,20")
    ap.add_argument("--compare", type=Path, default=None, help="a checkout of another commit to serve side by side")
    ap.add_argument("--rounds", type=int, default=1, help="repeat each measurement, alternating servers (best is printed)")
    ap.add_argument("--references", action="store_true",
                    help="bare and durable references, CPU per event, p99 at half peak, serve --workers (loadtests/collect_references.py)")
    ap.add_argument("--workers", default="1,2", help="with --references: the serve --workers counts to measure")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    if args.references:
        sys.path.insert(0, str(HERE))
        from collect_references import run

        return run(args, wrk, wait_up, free_port)
    data = Path(tempfile.mkdtemp(prefix="bench-collect-"))
    bare_port, tracker_port = free_port(), free_port()
    env = {**os.environ, "TRACKER_RATE_COLLECT_PER_PREFIX": "0", "TRACKER_RATE_COLLECT_PER_SITE": "0", "TRACKER_LOG_LEVEL": "warning"}
    bare = subprocess.Popen([sys.executable, str(HERE / "bare_app.py"), str(bare_port)], env=env)
    tracker = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--data", str(data), "--port", str(tracker_port)], env=env, stdout=subprocess.DEVNULL)
    targets = [("bare", f"http://127.0.0.1:{bare_port}"), ("tracker", f"http://127.0.0.1:{tracker_port}")]
    other = None
    if args.compare:
        other_data, other_port = Path(tempfile.mkdtemp(prefix="bench-collect-base-")), free_port()
        other = subprocess.Popen([sys.executable, "-m", "tracker", "serve", "--data", str(other_data), "--port", str(other_port)],
                                 env={**env, "PYTHONPATH": str(args.compare.resolve())}, cwd=args.compare, stdout=subprocess.DEVNULL)
        targets.append(("baseline", f"http://127.0.0.1:{other_port}"))
    results = []
    try:
        for _, url in targets:
            wait_up(url)
        acknowledged = 0
        for batch in [int(b) for b in args.batches.split(",")]:
            best: dict[str, dict] = {}
            for round_ in range(args.rounds):
                for name, url in targets:
                    r = wrk(url, batch, args.seconds, args.connections, f"{name}{batch}r{round_}")
                    if name == "tracker":
                        acknowledged += (r["requests"] - r["non2xx"]) * batch
                    if name not in best or r["events"] > best[name]["events"]:
                        best[name] = r
            results.extend((name, batch, best[name]) for name, _ in targets)
    finally:
        bare.terminate()
        tracker.send_signal(signal.SIGTERM)
        if other is not None:
            other.send_signal(signal.SIGTERM)
            other.wait(120)
        bare.wait(30)
        tracker.wait(120)
    stored = subprocess.run(
        [sys.executable, "-c", "import sys;from tracker.config import Settings;from tracker.storage.client import Storage;"
         "s=Storage(Settings.load({'data_dir':sys.argv[1]}, env={}));print(s.scalar(\"SELECT count() FROM events FINAL WHERE site='demo'\"))", str(data)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    print(f"{'target':<9}{'batch':>6}{'req/s':>10}{'events/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}")
    ceiling = {}
    for name, batch, r in results:
        if name == "bare":
            ceiling[batch] = r["events"]
        print(f"{name:<9}{batch:>6}{r['rps']:>10.0f}{r['events']:>12.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['non2xx']:>9}")
    for name, batch, r in results:
        if name != "bare":
            print(f"batch {batch}: {name} reaches {r['events'] / ceiling[batch]:.0%} of the bare endpoint's events/s")
    base = {batch: r["events"] for name, batch, r in results if name == "baseline"}
    for name, batch, r in results:
        if name == "tracker" and batch in base:
            print(f"batch {batch}: tracker / baseline events/s = {r['events'] / base[batch]:.3f}")
    print(f"acknowledged events (wrk, excluding warm-up probes): {acknowledged}; stored distinct events: {stored}")
    shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
