"""Seeding throughput: `tracker.seed` on the embedded engine, events/s at each size.

    .venv/bin/python loadtests/bench_seed.py [--events 1000000,10000000] [--repeat 3] [--writer columns|rows|both]

Each run seeds `events / 9.3` visitors over 30 days (seed 1), as `bench_reports.py` does, into a
fresh temporary data dir in its own process (chDB opens one dir per process, and an earlier
run's background merges must not slow the next), and reports the seeder's own events/s
(`SeedResult`: site registration, the model, building rows and inserting them, until the last
insert returned). `--writer rows` times the previous writer, every row through ingest's
encode_row as JSONEachRow (`tracker.seed.write_rows`), for comparison. The load average is
printed with every run: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EVENTS_PER_VISITOR = 9.3  # what tracker.seed produces on average
DAYS = 30


def one_run(events: int, writer: str) -> dict:
    """Seed once into a fresh data dir (runs in a child process)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tracker.config import Settings
    from tracker.runtime import Runtime
    from tracker.seed import seed, write_rows

    data = Path(tempfile.mkdtemp(prefix="bench-seed-"))
    load_before = os.getloadavg()[0]
    runtime = Runtime.open(Settings.load({"data_dir": str(data), "trust_refresh_seconds": 0, "query_timeout": 3600}))
    try:
        run = seed if writer == "columns" else write_rows
        result = run(runtime, "bench", int(events / EVENTS_PER_VISITOR), DAYS, seed=1, end_ms=int(time.time() * 1000))
        stored = runtime.storage.scalar("SELECT count() FROM events WHERE site = 'bench'")
        assert stored == result.events, (stored, result.events)
    finally:
        runtime.close()
        shutil.rmtree(data, ignore_errors=True)
    return {"events": result.events, "seconds": result.seconds, "events_per_second": result.events_per_second,
            "load": (load_before, os.getloadavg()[0])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", default="1000000,10000000", help="comma-separated event counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writer", choices=("columns", "rows", "both"), default="columns")
    parser.add_argument("--one", nargs=2, metavar=("EVENTS", "WRITER"), help=argparse.SUPPRESS)  # a child's single run
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_run(int(args.one[0]), args.one[1])))
        return
    writers = ("columns", "rows") if args.writer == "both" else (args.writer,)
    table = []
    for target in (int(x) for x in args.events.split(",")):
        for writer in writers:
            runs = []
            for i in range(args.repeat):
                out = subprocess.run([sys.executable, __file__, "--one", str(target), writer], capture_output=True, text=True)
                if out.returncode:
                    sys.exit(f"run failed:\n{out.stderr}")
                run = json.loads(out.stdout.strip().splitlines()[-1])
                runs.append(run)
                print(f"{writer:>7} {run['events']:>11,} events in {run['seconds']:6.1f}s = {run['events_per_second']:>9,.0f} events/s"
                      f"  (load average {run['load'][0]:.2f} -> {run['load'][1]:.2f})", flush=True)
            rates = [r["events_per_second"] for r in runs]
            loads = [x for r in runs for x in r["load"]]
            table.append((runs[0]["events"], writer, len(runs), max(rates), statistics.median(rates), min(loads), max(loads)))
    print("\n| events | writer | runs | best events/s | median events/s | load average |")
    print("|---:|---|---:|---:|---:|---|")
    for events, writer, n, best, median, lo, hi in table:
        print(f"| {events:,} | {writer} | {n} | {best:,.0f} | {median:,.0f} | {lo:.1f}-{hi:.1f} |")


if __name__ == "__main__":
    main()
