"""The marketer's reports (issue 18) with and without filters, on the embedded engine.

    .venv/bin/python loadtests/bench_marketer.py [--events 1000000] [--repeat 3] [--data DIR]

Seeds like loadtests/bench_reports.py (`tracker.seed`, 30 days ending now, OPTIMIZE FINAL, trust
partials materialised), then times through the report runner (`runner.execute`, as the API
does) `sources`, `devices`, `live` and the `overview` with money, and `overview`, `pages`,
`sources`, `funnel` and `campaigns` under filters: one session dimension (`device:mobile`),
a source (`source:www.google.com`), a page (`page:/cart`) and two at once. Prints the median,
min and max of `--repeat` runs per report and traffic setting. Trusted reports are timed with
the range's untrusted set already evaluated (the trust wing keeps it fresh in the background).
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

from bench_reports import DAYS, EVENTS_PER_VISITOR, FUNNEL, materialise_trust, peak_rss_mb
from tracker.config import Settings
from tracker.reports.routes import REPORTS as ROUTE_TABLE
from tracker.reports.runner import execute
from tracker.runtime import Runtime
from tracker.seed import seed

MOBILE, GOOGLE, CART = "device:mobile", "source:www.google.com", "page:/cart"
RUNS = [
    # References measured in the same run (the machine is shared: compare within a run).
    ("pages", {"limit": "100"}, []),
    ("campaigns", {}, []),
    ("overview", {}, []),
    ("sources", {}, []),
    ("devices", {}, []),
    ("live", {}, []),
    ("overview", {}, [MOBILE]),
    ("overview", {}, [GOOGLE]),
    ("overview", {}, [CART]),
    ("overview", {}, [MOBILE, GOOGLE]),
    ("pages", {"limit": "100"}, [MOBILE]),
    ("sources", {}, [MOBILE]),
    ("devices", {}, [GOOGLE]),
    ("funnel", {"steps": FUNNEL, "window": "3600"}, [MOBILE]),
    ("campaigns", {}, [CART]),
    ("promotions", {"model": "linear"}, [MOBILE]),
    ("live", {}, [MOBILE]),
]


def cpu_seconds() -> float:
    """This process's CPU time (chDB runs inside it): steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", help="data dir (default: a temporary dir, removed afterwards)")
    args = parser.parse_args()
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="bench-marketer-"))
    runtime = Runtime.open(Settings.load({"data_dir": str(data), "query_timeout": 600}))
    storage = runtime.storage
    end = datetime.now(UTC)
    common = {"from": (end - timedelta(days=DAYS)).date().isoformat(), "to": end.date().isoformat()}
    site = f"bench-{args.events}"
    rows = []
    try:
        stored = storage.scalar("SELECT count() FROM events WHERE site = {site:String}", {"site": site})
        if stored:
            events = int(stored)
            print(f"{site}: reusing {events:,} stored events", flush=True)
        else:
            result = seed(runtime, site, int(args.events / EVENTS_PER_VISITOR), DAYS, seed=1, end_ms=int(end.timestamp() * 1000))
            events = result.events
            print(f"{site}: seeded {events:,} events in {result.seconds:.1f}s", flush=True)
            storage.command("OPTIMIZE TABLE events FINAL", settings={"max_execution_time": 3600})
        materialise_trust(runtime, site)
        for name, params, filters in RUNS:
            for traffic in ("all", "trusted"):
                query = {"site": site, **common, **params, "traffic": traffic, "filter": filters}
                execute(runtime, ROUTE_TABLE[name], query)  # warm: the untrusted set, caches
                times, cpu = [], []
                for _ in range(args.repeat):
                    started, used = time.perf_counter(), cpu_seconds()
                    execute(runtime, ROUTE_TABLE[name], query)
                    times.append(time.perf_counter() - started)
                    cpu.append(cpu_seconds() - used)
                label = f"{name} {' + '.join(filters) or '(no filter)'} ({traffic})"
                rows.append((label, statistics.median(times), min(times), max(times), statistics.median(cpu)))
                print(f"  {label:<60} median {rows[-1][1]:.3f}s (min {rows[-1][2]:.3f}, max {rows[-1][3]:.3f}) CPU {rows[-1][4]:.3f}s "
                      f"peak RSS {peak_rss_mb():.0f} MiB", flush=True)
    finally:
        runtime.close()
        if not args.data:
            shutil.rmtree(data, ignore_errors=True)
    print(f"\n{events:,} events; process peak RSS {peak_rss_mb():.0f} MiB\n")
    print("| report | median s | min s | max s | CPU s (median) |\n|---|---:|---:|---:|---:|")
    for label, median, lo, hi, cpu in rows:
        print(f"| {label} | {median:.3f} | {lo:.3f} | {hi:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
