"""Reports on a live shop: `traffic=all` against `traffic=trusted` while events stream in.

    .venv/bin/python loadtests/bench_live.py --events 1000000 [--data DIR] [--rate 100] [--rounds 5]

Measured from outside, the way a shop's dashboard is used during a sale:
1. seeds `--events` events over 30 days (`tracker seed --site live`, about 9.6 events a
   visitor) into `--data` unless that dir already holds them (seeding 10M takes minutes: keep
   the dir and pass it again);
2. serves it (`tracker serve`, a real subprocess, default settings but rate limits off);
3. waits for the trust job (`POST /api/trust/refresh` of the range until neither trust signals
   nor session fragments of a closed day are stale) and
   for the first evaluation of the range (the first trusted overview);
4. streams `--rate` events/s through `/api/collect` (batches of 10 pageviews by returning
   visitors, one in twenty a crawler) from a thread, timing every request;
5. times each report over the last 30 days with `traffic=all` and `traffic=trusted`
   interleaved (`--rounds` each, alternating which goes first), and prints per report the
   medians, the trusted/all ratio, the `trust_as_of` lag (answer time minus `trust_as_of`:
   how far behind the newest accepted event trust was), the collect latency p50/p99/max
   while the reports ran, the server's peak RSS and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import orjson

EVENTS_PER_VISITOR = 9.6  # what `tracker seed` produces on average over 30 days
DAYS = 30
SITE = "live"
FUNNEL = json.dumps([{"type": "pageview", "path": "/c/*"}, {"type": "pageview", "path": "/p/*"}, {"type": "add_to_cart"}, {"type": "purchase"}])
REPORTS = [
    ("overview", {}),
    ("pages", {}),
    ("sources", {}),
    ("campaigns", {}),
    ("paths", {"start": "/", "depth": "3"}),
    ("funnel", {"steps": FUNNEL, "window": "3600"}),
    ("promotions", {"model": "last_click"}),
]
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
CRAWLER = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def tracker(data: Path, *args: str, env: dict | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", "--data", str(data), *args], check=True, env=env, **kwargs)


def seeded_events(data: Path) -> int:
    marker = data / "bench_live.json"
    return json.loads(marker.read_text())["events"] if marker.exists() else 0


CHUNK = 1_000_000  # events per `tracker seed` run: single runs of several million died in chDB's
# background pool (SIGSEGV, _chdb.abi3.so, twice at 3M and 10M on this machine), 1M runs did not


def shop_orders(data: Path, fraction: float) -> list[dict]:
    """FRACTION of the seeded orders as the shop's backend would confirm them (read from the
    store before the server holds it; the same order ids, amounts and coupons)."""
    code = (
        "import sys, orjson\n"
        "from tracker.config import Settings\n"
        "from tracker.storage.client import Storage\n"
        "s = Storage(Settings.load({'data_dir': sys.argv[1], 'max_result_rows': 100_000_000}))\n"  # every order
        "rows = s.dicts(\"SELECT order_id AS id, toString(argMin(revenue, ts)) AS revenue, argMin(currency, ts) AS currency,"
        " argMin(coupon, ts) AS coupon, toUnixTimestamp64Milli(min(ts)) AS placed FROM events"
        " WHERE site = {site:String} AND type = 'purchase' AND order_id != ''"
        " AND cityHash64(order_id) % 1000 < {share:UInt32} GROUP BY order_id\", {'site': sys.argv[2], 'share': int(sys.argv[3])})\n"
        "sys.stdout.buffer.write(orjson.dumps(rows))\n"
        "s.close()\n"
    )
    run = subprocess.run([sys.executable, "-c", code, str(data), SITE, str(round(fraction * 1000))], capture_output=True)
    if run.returncode:
        raise SystemExit(f"reading the seeded orders failed: {run.stderr.decode()[-1000:]}")
    out = run.stdout
    orders = orjson.loads(out)
    for k, order in enumerate(orders):
        order["ts"] = order.pop("placed")
        order["currency"] = order["currency"] or "USD"
        order["status"] = "refunded" if k % 50 == 49 else "paid"
        if not order["coupon"]:
            del order["coupon"]
    return orders


def confirm_orders(server: Server, token: str, orders: list[dict]) -> None:
    started = time.perf_counter()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        for k in range(0, len(orders), 1000):
            r = client.post("/api/orders", json={"site": SITE, "orders": orders[k:k + 1000]})
            r.raise_for_status()
            if r.json()["rejected"]:
                raise SystemExit(f"orders rejected: {r.json()['rejected'][:3]}")
    took = time.perf_counter() - started
    print(f"confirmed {len(orders):,} orders through /api/orders in {took:.1f} s ({len(orders) / took:,.0f}/s)", flush=True)


def seed(data: Path, events: int) -> None:
    visitors = int(events / EVENTS_PER_VISITOR)
    started = time.perf_counter()
    chunks = max(1, round(events / CHUNK))
    for k in range(chunks):  # distinct --seed values give distinct visitors
        share = visitors // chunks + (1 if k < visitors % chunks else 0)
        out = tracker(data, "seed", "--site", SITE, "--visitors", str(share), "--days", str(DAYS), "--seed", str(k),
                      capture_output=True, text=True).stdout
        print(f"  seed {k + 1}/{chunks}:", out.strip().splitlines()[-1] if out.strip() else "", flush=True)
    took = time.perf_counter() - started
    print(f"seeded {visitors:,} visitors in {took:.0f} s", flush=True)
    (data / "bench_live.json").write_text(json.dumps({"events": events, "visitors": visitors, "seconds": took}))


class Server:
    def __init__(self, data: Path, port: int):
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "TRACKER_RATE_COLLECT_PER_PREFIX": "0", "TRACKER_RATE_COLLECT_PER_SITE": "0",
               "TRACKER_RATE_REPORTS_PER_TOKEN": "0", "TRACKER_LOG_LEVEL": "warning"}
        self.log = open(data.parent / f"bench_live-{port}.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "tracker", "--data", str(data), "serve", "--port", str(port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"tracker serve exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.token = (data / "cli_token").read_text().strip()
        self.http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=3600)  # the first trust pass at 100M

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class Stream(threading.Thread):
    """`rate` events/s through /api/collect, 10 a request; records each request's latency."""

    def __init__(self, url: str, rate: float):
        super().__init__(daemon=True)
        self.url, self.rate = url, rate
        self.latencies: list[tuple[float, float]] = []  # (monotonic start, seconds)
        self.sent = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        interval = 10 / self.rate
        with httpx.Client(timeout=30) as client:
            n = 0
            next_at = time.monotonic()
            while not self.stopping.is_set():
                n += 1
                ua = CRAWLER if n % 20 == 0 else BROWSER
                events = [{"type": "pageview", "id": uuid.uuid4().hex, "url": f"https://shop.example/p/{(n * 7 + i) % 500}",
                           "vid": f"live-{n % 5000}"} for i in range(10)]
                body = orjson.dumps({"site": SITE, "events": events})
                started = time.monotonic()
                try:
                    r = client.post(self.url + "/api/collect", content=body, headers={"Content-Type": "text/plain", "User-Agent": ua})
                    if r.status_code == 202:
                        self.sent += len(events)
                except httpx.HTTPError:
                    pass
                self.latencies.append((started, time.monotonic() - started))
                next_at += interval
                self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def between(self, start: float, end: float) -> list[float]:
        return [took for at, took in self.latencies if start <= at <= end]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def window() -> dict:
    today = datetime.now(UTC).date()
    return {"site": SITE, "from": (today - timedelta(days=DAYS - 1)).isoformat(), "to": today.isoformat()}


def wait_for_trust(server: Server) -> None:
    started = time.perf_counter()
    while True:
        got = server.http.post("/api/trust/refresh", params=window())
        got.raise_for_status()
        if not got.json()["refreshed"] and not got.json().get("sessions"):
            break  # trust signals and session fragments of every closed day (a 100M range
            # read raw blew the 30 s budget)
    answer = server.http.get("/api/reports/overview", params=window())
    if answer.status_code != 200:  # e.g. the report budget exceeded by a first evaluation (100M)
        raise SystemExit(f"the first trusted overview answered {answer.status_code} after "
                         f"{time.perf_counter() - started:.0f} s: {answer.text[:300]}")
    first = answer.json()
    print(f"trust job caught up and first evaluation in {time.perf_counter() - started:.1f} s "
          f"({first['visitors']:,} trusted visitors, {first['excluded_visitors']:,} excluded; "
          f"revenue {first.get('revenue_source', 'browser')}: {first.get('orders', 0):,} orders)", flush=True)


def time_report(server: Server, name: str, query: dict, traffic: str) -> tuple[float, float | None, int]:
    """Seconds, `trust_as_of` lag and status. A report over the 30 s budget (504) is a
    measurement too: it is counted at the time it took, and the run goes on."""
    started = time.perf_counter()
    r = server.http.get(f"/api/reports/{name}", params={**window(), **query, "traffic": traffic})
    took = time.perf_counter() - started
    if r.status_code == 504:
        return took, None, 504
    r.raise_for_status()
    body = r.json()
    lag = None
    if "trust_as_of" in body:
        as_of = datetime.fromisoformat(body["trust_as_of"].replace("Z", "+00:00"))
        lag = (datetime.now(UTC) - as_of).total_seconds()
    return took, lag, r.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=None, help="data dir (kept; default /tmp/bench_live-<events>)")
    parser.add_argument("--rate", type=float, default=100.0, help="events/s streamed through /api/collect")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds of streaming before the first report")
    parser.add_argument("--only", default="", help="comma-separated reports to time (default: all of them)")
    parser.add_argument("--confirm", type=float, default=0.0, metavar="FRACTION",
                        help="confirm this share of the seeded orders through /api/orders before timing (default 0: browser revenue)")
    args = parser.parse_args()
    data = args.data or Path(f"/tmp/bench_live-{args.events}")
    data.mkdir(parents=True, exist_ok=True)
    if seeded_events(data) != args.events:
        seed(data, args.events)
    orders, ingest = [], ""
    if args.confirm:
        orders = shop_orders(data, args.confirm)
        made = tracker(data, "token", "create", "--role", "ingest", "--name", "bench-backend", "--site", SITE,
                       capture_output=True, text=True).stdout
        ingest = made.strip().splitlines()[-1]
    server = Server(data, args.port)
    stream = Stream(server.url, args.rate)
    try:
        if orders:
            confirm_orders(server, ingest, orders)
        wait_for_trust(server)
        stream.start()
        time.sleep(args.warmup)
        began = time.monotonic()
        rows, lags = [], []
        for name, query in REPORTS:
            if args.only and name not in args.only.split(","):
                continue
            if server.http.get(f"/api/reports/{name}", params={**window(), **query, "traffic": "all"}).status_code == 404:
                print(f"  {name:<11} (no such report on this version)", flush=True)
                continue
            times, over = {"all": [], "trusted": []}, {"all": 0, "trusted": 0}
            for k in range(args.rounds):
                for traffic in (("all", "trusted") if k % 2 == 0 else ("trusted", "all")):
                    took, lag, status = time_report(server, name, query, traffic)
                    times[traffic].append(took)
                    over[traffic] += status == 504
                    if lag is not None:
                        lags.append(lag)
            rows.append((name, statistics.median(times["all"]), statistics.median(times["trusted"]), over["all"], over["trusted"]))
            print(f"  {name:<11} all {rows[-1][1]:6.2f} s   trusted {rows[-1][2]:6.2f} s   ratio {rows[-1][2] / rows[-1][1]:4.2f}"
                  + (f"   over the budget (504): {over['all']} all, {over['trusted']} trusted" if any(over.values()) else ""), flush=True)
        ended = time.monotonic()
        collect = stream.between(began, ended)
    finally:
        stream.stopping.set()
        if stream.is_alive():
            stream.join(timeout=30)
        peak = server.peak_rss_mb()
        server.stop()
    load = os.getloadavg()
    print()
    print(f"events seeded {args.events:,}, streamed {stream.sent:,} at {args.rate:g}/s; rounds {args.rounds}"
          + (f"; revenue from {len(orders):,} confirmed orders ({args.confirm:g} of the seeded)" if orders else ""))
    print("| report (last 30 days) | all (median) | trusted (median) | trusted/all |")
    print("|---|---:|---:|---:|")
    for name, a, t, over_a, over_t in rows:
        mark = lambda n: f" ({n}× 504)" if n else ""  # noqa: E731
        print(f"| {name} | {a:.2f} s{mark(over_a)} | {t:.2f} s{mark(over_t)} | {t / a:.2f} |")
    if lags:
        print(f"trust_as_of lag: median {statistics.median(lags):.1f} s, max {max(lags):.1f} s")
    print(f"/api/collect while reports ran: {len(collect)} requests, p50 {percentile(collect, 50) * 1000:.1f} ms, "
          f"p99 {percentile(collect, 99) * 1000:.1f} ms, max {max(collect) * 1000:.0f} ms")
    print(f"server peak RSS {peak:,.0f} MiB; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
