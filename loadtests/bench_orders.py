"""What confirmed revenue costs the money reports, on the embedded engine.

    .venv/bin/python loadtests/bench_orders.py [--events 300000] [--repeat 5]

Seeds one site with `tracker.seed` in a temporary data dir and copies its events to a second
site; the first keeps counting the browsers' purchases, the second gets confirmations for 93%
of its orders (5% never confirmed, 2% refunded; one INSERT ... SELECT into `orders`, as if the
backend had sent them). Both are merged, then every report that counts money (traffic=all, so
the untrusted set is not part of the figure) runs on the two sites side by side — browser,
confirmed, browser, confirmed, ... `--repeat` times — so that a change of load on a shared
machine falls on both modes alike. Prints the median per report and mode, their ratio, and the
load average before and after. `--only` limits the reports (e.g. `--only overview,funnel`);
`--keep DIR` seeds DIR once and reuses it on later runs (the seed is most of a run's time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracker.config import Settings
from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute
from tracker.runtime import Runtime
from tracker.seed import seed

EVENTS_PER_VISITOR = 9.3
NAMES = ("overview", "sources", "promotions", "campaigns", "lift", "funnel")
FUNNEL = json.dumps([{"type": "pageview"}, {"type": "add_to_cart"}, {"type": "checkout"}, {"type": "purchase"}])
BROWSER, CONFIRMED = "bench", "benchc"

# (a subquery: in one SELECT, the REPLACE alias would also rewrite the WHERE's `site`)
COPY = f"INSERT INTO events SELECT * REPLACE ('{CONFIRMED}' AS site) FROM (SELECT * FROM events WHERE site = '{BROWSER}')"
CONFIRM = """
    INSERT INTO orders (site, order_id, status, revenue, currency, coupon, ordered_at, received_at, token_id, version)
    SELECT site, order_id, if(h % 100 < 2, 'refunded', 'paid'), revenue, currency, coupon, ts, now64(3), 'bench',
           toUInt64(toUnixTimestamp64Micro(now64(6))) * 1000
    FROM (SELECT site, order_id, any(revenue) AS revenue, any(currency) AS currency, any(coupon) AS coupon, min(ts) AS ts,
                 cityHash64(order_id) AS h
          FROM events WHERE site = {site:String} AND type = 'purchase' GROUP BY site, order_id)
    WHERE h % 100 >= 7 OR h % 100 < 2
"""


def query_of(name: str, site: str, start: str, end: str) -> dict:
    query = {"site": site, "traffic": "all", "from": start, "to": end}
    if name == "lift":
        query["promo"] = "SUMMER"
    if name == "funnel":
        query["steps"] = FUNNEL
    return query


def run_once(runtime, name: str, query: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    body = execute(runtime, REPORTS[name], query)
    return time.perf_counter() - t0, body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default=",".join(NAMES))
    ap.add_argument("--keep", help="a data dir to seed once and reuse (default: a temporary one, removed)")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    data = Path(args.keep or tempfile.mkdtemp(prefix="bench-orders-"))
    reuse = args.keep is not None and data.exists() and any(data.iterdir())
    runtime = Runtime.open(Settings.load({"data_dir": str(data), "trust_refresh_seconds": 0}, env={}))
    try:
        storage = runtime.storage
        if not reuse:
            for site in (BROWSER, CONFIRMED):
                runtime.sites.add(site, ["https://shop.example"])
            seed(runtime, BROWSER, visitors=int(args.events / EVENTS_PER_VISITOR), days=30)
            storage.command(COPY, what="copying the events")
            storage.command(CONFIRM, {"site": CONFIRMED}, what="confirming")
            storage.command("OPTIMIZE TABLE events FINAL", what="merge")
            storage.command("OPTIMIZE TABLE orders FINAL", what="merge")
        events = storage.scalar("SELECT count() FROM events WHERE site = {s:String}", {"s": BROWSER})
        confirmed = storage.scalar("SELECT count() FROM orders WHERE site = {s:String}", {"s": CONFIRMED})
        today = datetime.now(UTC).date()
        start, end = (today - timedelta(days=30)).isoformat(), today.isoformat()
        for name in names:  # warm-up: first reads of each column, caches of compiled expressions
            for site in (BROWSER, CONFIRMED):
                run_once(runtime, name, query_of(name, site, start, end))
        load_before = os.getloadavg()
        runs: dict[tuple[str, str], list[float]] = {}
        bodies: dict[tuple[str, str], dict] = {}
        for _ in range(args.repeat):
            for name in names:
                for site in (BROWSER, CONFIRMED):
                    seconds, bodies[name, site] = run_once(runtime, name, query_of(name, site, start, end))
                    runs.setdefault((name, site), []).append(seconds)
        load_after = os.getloadavg()
        print(f"{events:,} events per site, {confirmed:,} confirmations; median of {args.repeat} interleaved runs, traffic=all")
        print(f"load average before {load_before[0]:.1f} / {load_before[1]:.1f}, after {load_after[0]:.1f} / {load_after[1]:.1f} (1 / 5 min)")
        print(f"{'report':<12}{'browser s':>11}{'confirmed s':>13}{'ratio':>8}")
        for name in names:
            b, c = statistics.median(runs[name, BROWSER]), statistics.median(runs[name, CONFIRMED])
            print(f"{name:<12}{b:>11.3f}{c:>13.3f}{c / b:>8.2f}")
        if "overview" in names:
            ov_b, ov_c = bodies["overview", BROWSER], bodies["overview", CONFIRMED]
            print(f"overview revenue: browser {ov_b['revenue']:,.2f} ({ov_b['orders']} orders), confirmed {ov_c['revenue']:,.2f} "
                  f"({ov_c['orders']} orders), unconfirmed {ov_c['unconfirmed_orders']}, refunded {ov_c['refunded_orders']}")
        if "funnel" in names:
            print("funnel visitors: browser", [s["visitors"] for s in bodies["funnel", BROWSER]["steps"]],
                  "confirmed", [s["visitors"] for s in bodies["funnel", CONFIRMED]["steps"]])
    finally:
        runtime.close()
        if args.keep is None:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
