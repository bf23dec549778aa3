"""Durability under repeated SIGKILL: steady load, kills at random moments, restarts.

    .venv/bin/python loadtests/bench_durability.py [--kills 50] [--threads 4] [--batch 5] [--seed 1]

One data dir, one port. Each round starts `tracker serve` (flush interval 50 ms, so kills land
mid-flush too), drives it with sender threads posting batches of unique pageview ids, and
SIGKILLs it after a random 0.2-1.5 s. After the last kill a clean start replays the spool and
SIGTERM drains it. Then it prints:

    acknowledged  ids answered 202 with every event accepted
    stored        distinct ids in the events table
    lost          acknowledged but not stored (must be 0)
    duplicated    ids the overview report counts more than once (must be 0)
    raw copies    stored rows beyond one per id before dedup (replays absorbed by the insert
                  dedup token and ReplacingMergeTree + FINAL; informational)

The load generator is the kill-loop test's (`tests/ingest/test_kill_loop.py`).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ingest.test_kill_loop import Load  # noqa: E402
from tests.support.servers import TrackerServer, free_port  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=50)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--batch", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    data, port = Path(tempfile.mkdtemp(prefix="bench-durability-")) / "data", free_port()
    first = TrackerServer(data, port).start()
    first.add_site("shop")
    first.stop()
    sent: set[str] = set()
    acked: set[str] = set()
    started = time.monotonic()
    for kill in range(1, args.kills + 1):
        server = TrackerServer(data, port, env={"TRACKER_FLUSH_INTERVAL": "0.05"}).start()
        with Load(server.url, threads=args.threads, batch=args.batch) as load:
            time.sleep(rng.uniform(0.2, 1.5))
            server.proc.kill()
            server.proc.wait()
            server.proc = None
        sent |= load.sent
        acked |= load.acked
        print(f"kill {kill:>3}: {len(load.acked):>6} acknowledged this round, {len(acked):>7} in all", flush=True)
    final = TrackerServer(data, port).start()
    deadline = time.monotonic() + 60
    while httpx.get(final.url + "/readyz", timeout=5).json()["buffer"]["buffered_events"] and time.monotonic() < deadline:
        time.sleep(0.2)
    overview = final.api("GET", "/api/reports/overview", params={"site": "shop", "traffic": "all"}).json()
    final.stop()
    raw = final.stored("SELECT event_id, count() AS copies FROM events WHERE site = {site:String} GROUP BY event_id", site="shop")
    stored = {r["event_id"] for r in raw}
    lost = acked - stored
    print(f"\nkills {args.kills}, {args.threads} sender threads, batches of {args.batch}, {time.monotonic() - started:.0f} s")
    print(f"acknowledged {len(acked)}")
    print(f"stored       {len(stored)}  (sent {len(sent)}; stored but not acknowledged: {len(stored - acked)}, never sent: {len(stored - sent)})")
    print(f"lost         {len(lost)}")
    print(f"duplicated   {overview['pageviews'] - len(stored)}  (overview pageviews {overview['pageviews']} vs distinct stored ids)")
    print(f"raw copies   {sum(r['copies'] - 1 for r in raw)}")
    if lost or overview["pageviews"] != len(stored) or stored - sent:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
