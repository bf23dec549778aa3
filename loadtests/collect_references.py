"""`bench_collect.py --references`: tracker against two references, CPU per event, latency at
a constant rate, and `serve --workers`.

Targets, each started alone on a fresh data dir, driven by wrk at saturation, then stopped:
- `bare`: the parse-only endpoint (loadtests/bare_app.py), the ceiling of this stack;
- `durable`: the minimal durable pipeline (loadtests/durable_app.py: parse, fsync with group
  commit, JSONEachRow inserts into chDB), the floor of "durable and stored";
- `tracker`: plain `tracker serve` (one process, embedded chDB);
- `tracker-wN`: `tracker serve --workers N` (N workers + the private storage process).
CPU microseconds per event = the CPU time of the target's whole process tree (workers and the
storage process included) over the wrk run plus a settle time that lets the last second's
rows be inserted, divided by the events acknowledged. Then each tracker target gets a
constant-rate run (loadtests/constant_rate.py) at half its own peak request rate, for p99.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTLE = 2.5
TICK = os.sysconf("SC_CLK_TCK")
STORAGE_MARK = b"tracker.storage.server_process"  # the private storage process of serve --workers


def tree_cpu(pid: int, only: bytes = b"") -> float:
    """CPU seconds (user + system) of a process and all its descendants now alive (`only`:
    just those whose command line contains it)."""
    total, stack, seen = 0.0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            if not only or only in Path(f"/proc/{p}/cmdline").read_bytes():
                total += (int(fields[11]) + int(fields[12])) / TICK
            for task in Path(f"/proc/{p}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def start(name: str, port: int, data: Path, env: dict) -> subprocess.Popen:
    if name == "bare":
        cmd = [sys.executable, str(HERE / "bare_app.py"), str(port)]
    elif name == "durable":
        cmd = [sys.executable, str(HERE / "durable_app.py"), str(port), str(data)]
    else:
        cmd = [sys.executable, "-m", "tracker", "serve", "--data", str(data), "--port", str(port)]
        if name.startswith("tracker-w"):
            cmd += ["--workers", name[len("tracker-w"):]]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)


READ_STORED = """
import sys
from tracker.config import Settings
from tracker.storage.client import Storage
s = Storage(Settings.load({"data_dir": sys.argv[1]}, env={}))
print(s.scalar("SELECT count() FROM events FINAL WHERE site = 'demo'"),
      s.scalar("SELECT round(sum(data_compressed_bytes) / sum(rows)) FROM system.parts WHERE active AND table = 'events' AND database = 'tracker'"))
"""


def stored_by_tracker(data: Path) -> str:
    """Stored events, and compressed bytes a row (of these synthetic rows: a lower bound)."""
    return subprocess.run([sys.executable, "-c", READ_STORED, str(data)], capture_output=True, text=True, check=True).stdout.strip()


def constant_rate(port: int, rate: float, seconds: int, batch: int, run: str) -> dict:
    out = subprocess.run([sys.executable, str(HERE / "constant_rate.py"), f"127.0.0.1:{port}", "--rate", f"{rate:.0f}", "--seconds", str(seconds),
                          "--batch", str(batch), "--run", run], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def run(args, wrk, wait_up, free_port) -> None:
    batches = [int(b) for b in args.batches.split(",")]
    targets = ["bare", "durable", "tracker"] + [f"tracker-w{n}" for n in args.workers.split(",") if n]
    env = {**os.environ, "TRACKER_RATE_COLLECT_PER_PREFIX": "0", "TRACKER_RATE_COLLECT_PER_SITE": "0", "TRACKER_LOG_LEVEL": "warning",
           "TRACKER_TRUST_REFRESH_SECONDS": "0"}
    results, paced, stored = [], [], {}
    for name in targets:
        data = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        port = free_port()
        proc = start(name, port, data, env)
        acknowledged = 0
        try:
            wait_up(f"http://127.0.0.1:{port}")
            for batch in batches:
                before, before_storage = tree_cpu(proc.pid), tree_cpu(proc.pid, STORAGE_MARK)
                r = wrk(f"http://127.0.0.1:{port}", batch, args.seconds, args.connections, f"{name}{batch}")
                time.sleep(SETTLE)
                events = (r["requests"] - r["non2xx"]) * batch
                r["cpu_us"] = (tree_cpu(proc.pid) - before) / max(1, events) * 1e6
                r["storage_us"] = (tree_cpu(proc.pid, STORAGE_MARK) - before_storage) / max(1, events) * 1e6
                acknowledged += events
                results.append((name, batch, r))
                if name.startswith("tracker") and batch == max(batches):
                    half = r["rps"] / 2
                    c = constant_rate(port, half, args.seconds, batch, f"{name}-cr")
                    acknowledged += (c["requests"] - c["non202"]) * batch
                    paced.append((name, batch, c))
            if name == "durable":
                import httpx2 as httpx

                deadline = time.monotonic() + 30  # its last second of rows is inserted a moment later
                while time.monotonic() < deadline:
                    stored[name] = httpx.get(f"http://127.0.0.1:{port}/count", timeout=30).text.strip()
                    if int(stored[name]) >= acknowledged:
                        break
                    time.sleep(0.5)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(180)
        if name.startswith("tracker"):
            stored[name] = stored_by_tracker(data)
        stored[name + ":acked"] = str(acknowledged)
        subprocess.run(["rm", "-rf", str(data)], check=False)
    print(f"{'target':<12}{'batch':>6}{'req/s':>10}{'events/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'CPU us/ev':>11}{'non-2xx':>9}")
    by = {}
    for name, batch, r in results:
        by[(name, batch)] = r
        print(f"{name:<12}{batch:>6}{r['rps']:>10.0f}{r['events']:>12.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['cpu_us']:>11.1f}{r['non2xx']:>9}")
    for name, batch, r in results:
        if name.startswith("tracker"):
            bare, durable = by[("bare", batch)]["events"], by[("durable", batch)]["events"]
            print(f"batch {batch}: {name} reaches {r['events'] / bare:.0%} of the bare endpoint and {r['events'] / durable:.0%} of the durable reference")
    for name, batch, c in paced:
        print(f"{name} at a constant {c['target_rps']:.0f} req/s (half its peak, batch {batch}): achieved {c['achieved_rps']:.0f} req/s, "
              f"p50 {c['p50']} ms, p90 {c['p90']} ms, p99 {c['p99']} ms, p99.9 {c['p999']} ms, max {c['max']} ms, errors {c['errors']}, non-202 {c['non202']}")
    for name, batch, r in results:
        if r["storage_us"]:
            print(f"{name} batch {batch}: of {r['cpu_us']:.1f} us of CPU an event, the storage process took {r['storage_us']:.1f}")
    for name in targets[1:]:
        count, *size = stored[name].split()
        print(f"{name}: acknowledged {stored[name + ':acked']} events (excluding warm-up probes), stored {count}"
              + (f" ({size[0]} compressed bytes a row)" if size else ""))
