"""Report latency and memory at 1M and 10M events on the embedded engine.

    .venv/bin/python loadtests/bench_reports.py [--events 1000000,10000000] [--repeat 3] [--data DIR]

Seeds each size with `tracker.seed` into its own site of one temporary data dir (chDB opens one
dir per process), merges with OPTIMIZE TABLE events FINAL, then runs every page-flow report
through the same report runner the API uses (`tracker.reports.runner.execute`) and prints, per report, the median of
`--repeat` runs and this process's peak RSS
(chDB runs inside it; system.query_log is not available in the embedded engine, so
per-query memory is not separated). The trust wing's day partials are materialised first, as
its background job keeps them in production. Trusted reports are timed with the range's
untrusted set already computed (the first trusted report of a range computes it, later ones
reuse it while the range's data is unchanged); "untrusted set (computed)" times that
computation alone, from an empty cache.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracker.config import Settings
from tracker.reports.params import parse_scope
from tracker.reports.routes import REPORTS as ROUTE_TABLE
from tracker.reports.runner import execute
from tracker.reports.trust.live import LiveTrust
from tracker.reports.trust.materialise import refresh
from tracker.runtime import Runtime
from tracker.seed import seed

EVENTS_PER_VISITOR = 9.3  # what tracker.seed produces on average
DAYS = 30
FUNNEL = json.dumps([{"type": "pageview", "path": "/c/*"}, {"type": "pageview", "path": "/p/*"}, {"type": "add_to_cart"}, {"type": "purchase"}])
REPORTS = [
    ("overview", {}),
    ("pages", {"limit": "100"}),
    ("paths", {"start": "/", "depth": "3"}),
    ("funnel", {"steps": FUNNEL, "window": "3600"}),
    ("funnel+breakdown", {"steps": FUNNEL, "window": "3600", "breakdown": "device"}),
    # Promotion reports (issue 5): every attribution model, a creative breakdown, campaigns, lift.
    ("promotions", {"model": "last_click"}),
    ("promotions+first_click", {"model": "first_click"}),
    ("promotions+linear", {"model": "linear"}),
    ("promotions+time_decay", {"model": "time_decay"}),
    ("promotions+position", {"model": "position"}),
    ("promotions+by_creative", {"model": "linear", "by": "creative"}),
    ("campaigns", {}),
    ("lift", {"promo": "SUMMER"}),
]
TRAFFIC = ("trusted", "all")  # trusted pays for the trust wing's untrusted-visitor set


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_report(runtime, name: str, query: dict) -> float:
    if name.startswith("untrusted set"):
        # The trust wing's rule alone, evaluated afresh (an evaluator of its own): what the first
        # trusted report of a never-asked range pays on top of its own work, and what the
        # background evaluator pays after new events in it (trust/live.py).
        sets, scope = LiveTrust(runtime.storage, runtime.trust), parse_scope(query)
        started = time.perf_counter()
        sets.verdicts(scope.site, scope.start_ts, scope.end_ts)
        took = time.perf_counter() - started
        sets.close()
        return took
    report = ROUTE_TABLE[name.split("+")[0].split(" ")[0]]
    started = time.perf_counter()
    execute(runtime, report, query)
    return time.perf_counter() - started


def materialise_trust(runtime, site: str) -> int:
    """Bring the trust wing's day partials up to date, as its background job would."""
    return len(refresh(runtime.storage, runtime.trust, site=site, limit=10_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", default="1000000,10000000", help="comma-separated event counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", help="data dir (default: a temporary dir, removed afterwards)")
    args = parser.parse_args()
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="bench-reports-"))
    runtime = Runtime.open(Settings.load({"data_dir": str(data), "query_timeout": 600}))
    storage = runtime.storage
    end = datetime.now(UTC)
    end_ms = int(end.timestamp() * 1000)
    common = {"from": (end - timedelta(days=DAYS)).date().isoformat(), "to": end.date().isoformat()}
    results = []
    try:
        for target in (int(x) for x in args.events.split(",")):
            site = f"bench-{target}"
            stored = storage.scalar("SELECT count() FROM events WHERE site = {site:String}", {"site": site})
            if stored:  # --data DIR kept from an earlier run
                print(f"{site}: reusing {stored:,} stored events", flush=True)
                events = int(stored)
            else:
                result = seed(runtime, site, int(target / EVENTS_PER_VISITOR), DAYS, seed=1, end_ms=end_ms)
                events = result.events
                print(f"{site}: seeded {result.events:,} events / {result.visitors:,} visitors in {result.seconds:.1f}s "
                      f"({result.events_per_second:,.0f} events/s)", flush=True)
            started = time.perf_counter()
            storage.command("OPTIMIZE TABLE events FINAL", settings={"max_execution_time": 3600})
            print(f"  OPTIMIZE TABLE events FINAL {time.perf_counter() - started:.1f}s", flush=True)
            started = time.perf_counter()
            days = materialise_trust(runtime, site)
            print(f"  trust partials materialised for {days} closed days in {time.perf_counter() - started:.1f}s "
                  "(what the background trust job keeps up to date; today is computed live)", flush=True)
            runs = [(r, t) for r in REPORTS for t in TRAFFIC] + [(("untrusted set (computed)", {}), "trusted")]
            for (report, params), traffic in runs:
                name = f"{report} ({traffic})"
                query = {"site": site, **common, **params, "traffic": traffic}
                times = [run_report(runtime, name, query) for _ in range(args.repeat)]
                row = (events, name, statistics.median(times), min(times), max(times), peak_rss_mb())
                results.append(row)
                print(f"  {name:<26} median {row[2]:.3f}s  (min {row[3]:.3f}, max {row[4]:.3f})  "
                      f"peak RSS {row[5]:.0f} MiB", flush=True)
    finally:
        runtime.close()
        if not args.data:
            shutil.rmtree(data, ignore_errors=True)
    print("\n| events | report | median s | min s | max s | process peak RSS MiB |")
    print("|---:|---|---:|---:|---:|---:|")
    for events, name, median, lo, hi, rss in results:
        print(f"| {events:,} | {name} | {median:.3f} | {lo:.3f} | {hi:.3f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
