"""What confirmed revenue costs the money reports, on the embedded engine.

    .venv/bin/python loadtests/bench_orders.py [--events 1000000] [--repeat 3]

Seeds one site with `tracker.seed` in a temporary data dir, merges, times the reports that
count money (traffic=all, so the untrusted set is not part of the figure) while the site
counts the browsers' purchases, then confirms 93% of its orders (5% never confirmed, 2%
refunded; one INSERT ... SELECT into `orders`, as if the backend had sent them) and times the
same reports again, now joined to the confirmations (tracker/reports/revenue.py). Prints the
median of `--repeat` runs per report and mode.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from tracker.config import Settings
from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute
from tracker.runtime import Runtime
from tracker.seed import seed

EVENTS_PER_VISITOR = 9.3
NAMES = ("overview", "sources", "promotions", "campaigns", "lift")

CONFIRM = """
    INSERT INTO orders (site, order_id, status, revenue, currency, coupon, ordered_at, received_at, token_id, version)
    SELECT site, order_id, if(h % 100 < 2, 'refunded', 'paid'), revenue, currency, coupon, ts, now64(3), 'bench',
           toUInt64(toUnixTimestamp64Micro(now64(6))) * 1000
    FROM (SELECT site, order_id, any(revenue) AS revenue, any(currency) AS currency, any(coupon) AS coupon, min(ts) AS ts,
                 cityHash64(order_id) AS h
          FROM events WHERE site = {site:String} AND type = 'purchase' GROUP BY site, order_id)
    WHERE h % 100 >= 7 OR h % 100 < 2
"""


def timed(runtime, name: str, query: dict, repeat: int) -> tuple[float, dict]:
    runs, body = [], {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        body = execute(runtime, REPORTS[name], query)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), body


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-orders-"))
    runtime = Runtime.open(Settings.load({"data_dir": str(data), "trust_refresh_seconds": 0}, env={}))
    try:
        site = "bench"
        runtime.sites.add(site, ["https://shop.example"])
        seed(runtime, site, visitors=int(args.events / EVENTS_PER_VISITOR), days=30)
        runtime.storage.command("OPTIMIZE TABLE events FINAL", what="merge")
        events = runtime.storage.scalar("SELECT count() FROM events WHERE site = {s:String}", {"s": site})
        query = {"site": site, "traffic": "all", "promo": "SUMMER"}
        from datetime import UTC, datetime, timedelta

        today = datetime.now(UTC).date()
        query.update({"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()})
        before = {name: timed(runtime, name, query, args.repeat) for name in NAMES}
        runtime.storage.command(CONFIRM, {"site": site}, what="confirming")
        confirmed = runtime.storage.scalar("SELECT count() FROM orders WHERE site = {s:String}", {"s": site})
        after = {name: timed(runtime, name, query, args.repeat) for name in NAMES}
        print(f"{events:,} events, {confirmed:,} confirmations; median of {args.repeat} runs, traffic=all")
        print(f"{'report':<12}{'browser s':>11}{'confirmed s':>13}")
        for name in NAMES:
            print(f"{name:<12}{before[name][0]:>11.3f}{after[name][0]:>13.3f}")
        ov_b, ov_c = before["overview"][1], after["overview"][1]
        print(f"overview revenue: browser {ov_b['revenue']:,.2f} ({ov_b['orders']} orders), confirmed {ov_c['revenue']:,.2f} "
              f"({ov_c['orders']} orders), unconfirmed {ov_c['unconfirmed_orders']}, refunded {ov_c['refunded_orders']}")
    finally:
        runtime.close()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
