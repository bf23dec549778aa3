"""Trust-report latency at 1M and 10M events on the embedded engine.

    .venv/bin/python loadtests/bench_trust.py [--events 1000000,10000000] [--repeat 3] [--data DIR]

Seeds each size with `tracker.seed` (30 days) into its own site of one temporary data dir,
merges with OPTIMIZE TABLE events FINAL, then times every trust endpoint's query through the
same report runner the API uses (`tracker.reports.runner.execute`), twice: with nothing materialised (everything
computed live, the worst case: the first minutes after an import) and after the background
job's work (`materialise.refresh`, timed too) has covered the closed days, where only today is
computed live. It also times the untrusted-visitor rule alone: what the first `traffic=trusted`
report of a range pays once (later ones reuse the cached set while the range is unchanged).
Prints the median of `--repeat` runs and this process's peak RSS.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracker.config import Settings
from tracker.reports.params import parse_scope
from tracker.reports.runner import Context, execute
from tracker.reports.trust import materialise, routes, score
from tracker.runtime import Runtime
from tracker.seed import seed

EVENTS_PER_VISITOR = 9.3  # what tracker.seed produces on average
DAYS = 30


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, repeat: int) -> tuple[float, float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times), max(times)


def cases(runtime, query: dict) -> list[tuple[str, object]]:
    first = execute(runtime, routes.VISITORS, {**query, "limit": "1"})["rows"]
    vid = first[0]["vid"] if first else "none"
    untrusted = f"SELECT count() FROM ({score.VISITOR_SCORES}) WHERE score <= {{threshold:UInt8}}"
    ctx = Context(runtime.storage, parse_scope(query), runtime.trust)
    return [
        ("untrusted rule alone (once per range)", lambda: runtime.storage.scalar(untrusted, ctx.bind_coverage())),
        ("visitors (limit 100)", lambda: execute(runtime, routes.VISITORS, query)),
        ("visitors/{vid}", lambda: execute(runtime, routes.VISITOR, {**query, "vid": vid})),
        ("promotions", lambda: execute(runtime, routes.PROMOTIONS, query)),
        ("coupons", lambda: execute(runtime, routes.COUPONS, query)),
        ("networks", lambda: execute(runtime, routes.NETWORKS, query)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", default="1000000,10000000", help="comma-separated event counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", help="data dir (default: a temporary dir, removed afterwards)")
    args = parser.parse_args()
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="bench-trust-"))
    settings = Settings.load({"data_dir": str(data), "query_timeout": 600, "trust_refresh_seconds": 0})
    runtime = Runtime.open(settings)
    storage = runtime.storage
    end = datetime.now(UTC)
    results = []
    try:
        for target in (int(x) for x in args.events.split(",")):
            site = f"bench-trust-{target}"
            stored = storage.scalar("SELECT count() FROM events WHERE site = {site:String}", {"site": site})
            if stored:
                events = int(stored)
                print(f"{site}: reusing {events:,} stored events", flush=True)
            else:
                result = seed(runtime, site, int(target / EVENTS_PER_VISITOR), DAYS, seed=1, end_ms=int(end.timestamp() * 1000))
                events = result.events
                print(f"{site}: seeded {events:,} events / {result.visitors:,} visitors in {result.seconds:.1f}s", flush=True)
            storage.command("OPTIMIZE TABLE events FINAL", settings={"max_execution_time": 3600})
            query = {"site": site, "from": (end - timedelta(days=DAYS)).date().isoformat(), "to": end.date().isoformat()}
            storage.command("DELETE FROM trust_coverage WHERE site = {site:String}", {"site": site})  # start from nothing
            for phase in ("live", "materialised"):
                if phase == "materialised":
                    started = time.perf_counter()
                    days = materialise.refresh(storage, runtime.trust, site=site, limit=10_000)
                    took = time.perf_counter() - started
                    print(f"  materialised {len(days)} closed days in {took:.1f}s", flush=True)
                    results.append((events, "materialise all closed days (job)", "-", took, took, took, peak_rss_mb()))
                for name, fn in cases(runtime, query):
                    median, lo, hi = timed(fn, args.repeat)
                    results.append((events, name, phase, median, lo, hi, peak_rss_mb()))
                    print(f"  [{phase}] {name:<38} median {median:.3f}s (min {lo:.3f}, max {hi:.3f})", flush=True)
    finally:
        runtime.close()
        if not args.data:
            shutil.rmtree(data, ignore_errors=True)
    print("\n| events | query | partials | median s | min s | max s | process peak RSS MiB |")
    print("|---:|---|---|---:|---:|---:|---:|")
    for events, name, phase, median, lo, hi, rss in results:
        print(f"| {events:,} | {name} | {phase} | {median:.3f} | {lo:.3f} | {hi:.3f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
