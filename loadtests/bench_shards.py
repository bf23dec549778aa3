"""Per-visitor work on its shard: rows shard 2 sends, and report time, one node vs two shards.

    .venv/bin/python loadtests/bench_shards.py [--visitors 3000] [--days 7] [--repeat 3] [--distributed-reads]

Starts one ClickHouse node and a two-shard cluster (chDB-served, `tracker.storage.server_process`),
stores the same seeded shop (`tracker.seed.write_rows`) in both, then runs every report through
the report runner (`tracker.reports.runner.execute`, tagged with `log_comment`) and prints, per
report: the median time on one node and on the cluster, and how many rows node 2 (shard 2)
returned for it (`system.query_log`, its non-initial queries with the report's comment),
against node 2's own event rows. `--distributed-reads` renders the reports' shard-local levels
as one node would (reads through the Distributed tables): the layout before shard-local levels,
for comparison. Both shards share this machine's cores, so cluster times measure the
overhead of distribution here, not a speed-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tracker.config import Settings
from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute
from tracker.reports.trust import routes as trust_routes
from tracker.runtime import Runtime
from tracker.seed import register_promotions, write_rows
from tracker.storage import client as storage_client, shards
from tracker.storage.client import Storage
from tracker.storage.server_process import ServerProcess, start_cluster

CLUSTER = "bench"
FUNNEL = json.dumps([{"type": "pageview", "path": "/c/*"}, {"type": "add_to_cart"}, {"type": "purchase"}])


def questions(start: str, end: str) -> list[tuple[str, object, dict]]:
    r = {"from": start, "to": end}
    return [
        ("overview", REPORTS["overview"], r), ("pages", REPORTS["pages"], r), ("paths", REPORTS["paths"], {**r, "start": "/"}),
        ("funnel", REPORTS["funnel"], {**r, "steps": FUNNEL}), ("promotions", REPORTS["promotions"], r),
        ("campaigns", REPORTS["campaigns"], r), ("sources", REPORTS["sources"], r), ("devices", REPORTS["devices"], r),
        ("lift", REPORTS["lift"], {**r, "promo": "SUMMER"}), ("trust visitors", trust_routes.VISITORS, r),
        ("trust coupons", trust_routes.COUPONS, r), ("trust networks", trust_routes.NETWORKS, r),
    ]


def node2_rows(node: Storage, comment: str, since: datetime) -> tuple[int, int]:
    """(rows returned, rows read) by node 2's non-initial queries with `comment` since `since`."""
    node.command("SYSTEM FLUSH LOGS")
    row = node.query("SELECT sum(result_rows), sum(read_rows) FROM system.query_log WHERE type = 'QueryFinish' AND is_initial_query = 0"
                     " AND log_comment = {c:String} AND event_time_microseconds >= {t:DateTime64(6)}", {"c": comment, "t": since}).rows[0]
    return int(row[0] or 0), int(row[1] or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=3000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--distributed-reads", action="store_true", help="render shard-local levels as on one node (the old layout)")
    args = parser.parse_args()
    if args.distributed_reads:
        original = shards.render
        storage_client.shards = type("OneNode", (), {"render": staticmethod(lambda sql, cluster="", database="": original(sql, "", database))})
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = (today - timedelta(days=args.days)).date().isoformat(), (today - timedelta(days=1)).date().isoformat()
    base = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    single = ServerProcess(base / "single").start()
    cluster = start_cluster(base / "cluster", CLUSTER, shards=2)
    common = {"trust_refresh_seconds": 0, "trust_live_seconds": 0, "flush_interval": 0.2}
    one = Runtime.open(Settings.load({"data_dir": str(base / "one"), "dsn": single.dsn, **common}, env={}))
    two = Runtime.open(Settings.load({"data_dir": str(base / "two"), "dsn": cluster.dsn, "cluster": CLUSTER,
                                      "cluster_nodes": ",".join(cluster.node_dsns), **common}, env={}))
    try:
        site = "bench"
        chunks: list[bytes] = []
        result = write_rows(one, site, args.visitors, args.days, seed=7, end_ms=int(today.timestamp() * 1000), insert=chunks.append)
        for rt in (one, two):
            rt.sites.ensure(site, [])
            register_promotions(rt, site)
            rt.storage.insert_jsonl("events", b"".join(chunks))
        shard2 = two.storage.nodes()[1]
        events2 = shard2.scalar("SELECT count() FROM events_local WHERE site = {s:String}", {"s": site})
        print(f"{result.events} events, {args.visitors} visitors over {args.days} days; node 2 holds {events2} event rows;"
              f" load average {os.getloadavg()[0]:.2f}; {'Distributed reads' if args.distributed_reads else 'shard-local levels'}")
        print(f"{'report':16} {'one node ms':>12} {'two shards ms':>14} {'node 2 rows sent':>17} {'node 2 rows read':>17}")
        for name, report, query in questions(start, end):
            query = {**query, "site": site}
            timings: dict[str, list[float]] = {"one": [], "two": []}
            for _ in range(args.repeat):
                for key, rt in (("one", one), ("two", two)):
                    began = time.perf_counter()
                    execute(rt, report, query)
                    timings[key].append((time.perf_counter() - began) * 1000)
            since = datetime.now(UTC).replace(tzinfo=None)
            execute(two, report, query)
            sent, read = node2_rows(shard2, f"tracker report {report.name}", since)
            print(f"{name:16} {statistics.median(timings['one']):12.0f} {statistics.median(timings['two']):14.0f} {sent:17d} {read:17d}")
    finally:
        one.close()
        two.close()
        single.stop()
        cluster.stop()


if __name__ == "__main__":
    main()
