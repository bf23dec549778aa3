"""Session reports side by side: cut from raw events vs stitched from session fragments (#15).

    .venv/bin/tracker seed --site live --visitors 104166 --days 30 --seed 1 --data /tmp/rollup-1m
    .venv/bin/python loadtests/bench_rollup.py --data /tmp/rollup-1m --site live --rounds 5

Opens the data dir (the background trust job off, so nothing merges or builds while timing),
does what that job does (`compact_closed_days`, the trust partials, `session_days.refresh` and
`refresh_today`), then times each report over the last 30 days with its raw twin in the same
round, alternating which goes first, for `traffic=all` and `traffic=trusted`, and checks the
two answers are the same. Today after its prefix (and, with a tz, the range's edge days) is
read raw in the rollup too. Prints the medians, the ratio raw/rollup, the build times and the
load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

from tracker.config import Settings
from tracker.reports import session_days
from tracker.reports.params import parse_params, parse_scope
from tracker.reports.routes import REPORTS
from tracker.reports.runner import Context
from tracker.reports.trust.materialise import refresh
from tracker.runtime import Runtime
from tracker.storage.repartition import compact_closed_days

DAYS = 30
PARAMS = {"paths": {"start": "/", "depth": "3"}}  # as loadtests/bench_live.py asks them


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--site", default="live")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reports", default="overview", help="comma-separated reports with a rollup: overview, sources, campaigns, devices, paths")
    parser.add_argument("--tz", default="UTC")
    args = parser.parse_args()
    runtime = Runtime.open(Settings.load({"data_dir": args.data, "query_timeout": 600, "trust_refresh_seconds": 0}))
    storage = runtime.storage
    try:
        events = storage.scalar("SELECT count() FROM events WHERE site = {site:String}", {"site": args.site})
        print(f"{args.site}: {events:,} events", flush=True)
        took, merged = timed(lambda: compact_closed_days(storage, limit=10_000))
        print(f"  merged {len(merged)} closed days in {took:.1f}s", flush=True)
        took, days = timed(lambda: refresh(storage, runtime.trust, site=args.site, limit=10_000))
        print(f"  trust partials of {len(days)} days in {took:.1f}s", flush=True)
        took, built = timed(lambda: session_days.refresh(storage, site=args.site, limit=10_000))
        fragments = storage.scalar("SELECT count() FROM session_days FINAL WHERE site = {site:String}", {"site": args.site})
        print(f"  session fragments of {len(built)} days in {took:.1f}s ({fragments:,} fragments)", flush=True)
        took, today = timed(lambda: session_days.refresh_today(storage, site=args.site))
        print(f"  today's prefix of {len(today)} site(s) in {took:.1f}s", flush=True)
        end = datetime.now(UTC).date()
        query = {"site": args.site, "from": (end - timedelta(days=DAYS - 1)).isoformat(), "to": end.isoformat(), "tz": args.tz}
        rows = []
        for name in args.reports.split(","):
            report = REPORTS[name]
            for traffic in ("all", "trusted"):
                scope = parse_scope({**query, "traffic": traffic})
                verdicts = runtime.trust_sets.verdicts(scope.site, scope.start_ts, scope.end_ts, runtime.trust) if scope.trusted_only else None
                ctx = Context(storage, scope, runtime.trust, verdicts.set_id if verdicts else 0)
                params = parse_params(report.params, PARAMS.get(name, {}))
                times = {False: [], True: []}
                for i in range(args.rounds):
                    answers = {}
                    for rollups in ((False, True) if i % 2 == 0 else (True, False)):
                        took, answers[rollups] = timed(lambda r=rollups: report.run(ctx, params, rollups=r))
                        times[rollups].append(took)
                    same = answers[False] == answers[True]
                    assert same, f"{name} {traffic}: rollup and raw answers differ"
                raw, rolled = statistics.median(times[False]), statistics.median(times[True])
                rows.append((name, traffic, raw, rolled))
                print(f"  {name} ({traffic}): raw {raw:.3f}s  rollup {rolled:.3f}s  x{raw / rolled:.1f}  (same answers)", flush=True)
        load = os.getloadavg()
        print(f"\nload average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}")
        print(f"\n| report (last {DAYS} days, tz {args.tz}) | traffic | raw (median of {args.rounds}) | rollup | raw/rollup |")
        print("|---|---|---:|---:|---:|")
        for name, traffic, raw, rolled in rows:
            print(f"| {name} | {traffic} | {raw:.2f} s | {rolled:.2f} s | {raw / rolled:.1f} |")
    finally:
        runtime.close()


if __name__ == "__main__":
    main()
