"""Server time of every dashboard page at a given data size (docs/benchmarks.md, "Dashboard").

    .venv/bin/python loadtests/bench_dashboard.py --data /tmp/dash-bench --events 1000000

Seeds the `bench` site with `tracker.seed` until it holds about `--events` events (kept in the
data dir, so a second run reuses them), signs in through the login form like a browser, and
for each page times, in-process: the HTML page itself, then each API call the page's script
makes (the same list as `assets/src/*.js`). The browser sends those calls in parallel; the
"all API calls" column is their sum, i.e. the worst case on one core. Medians of `--runs`
runs after one warm-up run (the first run also fills the trust wing's per-day cache).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

SITE = "bench"
FUNNEL = json.dumps([{"type": "pageview", "path": "/"}, {"type": "add_to_cart"}, {"type": "checkout"}, {"type": "purchase"}])


def page_calls(promos: list[str]) -> dict[str, tuple[str, list[tuple[str, dict]]]]:
    """page -> (page URL, [(API path, extra params)]) as the page's script sends them."""
    prev = {"__prev__": True}
    return {
        "overview": ("/dashboard", [("reports/overview", {}), ("reports/overview", prev)]),
        "pages": ("/dashboard/pages", [("reports/overview", {}), ("reports/pages", {})]),
        "paths": ("/dashboard/paths?start=/", [("reports/overview", {}), ("reports/paths", {"start": "/"})]),
        "funnel": ("/dashboard/funnel", [("reports/overview", {}), ("reports/funnel", {"steps": FUNNEL, "window": "86400"})]),
        "promotions": ("/dashboard/promotions", [("reports/overview", {}), ("reports/promotions", {})]),
        "campaigns": ("/dashboard/campaigns", [("reports/overview", {}), ("reports/campaigns", {})]),
        "lift": ("/dashboard/lift", [("reports/overview", {}), ("reports/promotions", {})] + [("reports/lift", {"promo": p}) for p in promos]),
        "trust": ("/dashboard/trust", [("reports/overview", {}), ("trust/visitors", {"limit": "100", "offset": "0"})]),
        "trust_promotions": ("/dashboard/trust/promotions", [("reports/overview", {}), ("trust/promotions", {})]),
        "trust_coupons": ("/dashboard/trust/coupons", [("reports/overview", {}), ("trust/coupons", {})]),
        "trust_networks": ("/dashboard/trust/networks", [("reports/overview", {}), ("trust/networks", {})]),
    }


def ensure_events(runtime, target: int) -> int:
    from tracker.seed import seed

    count = lambda: int(runtime.storage.scalar("SELECT count() FROM events WHERE site = {s:String}", {"s": SITE}) or 0)  # noqa: E731
    have, batch = count(), 0
    while have < target * 0.98:
        per_visitor = 25.0 if not have else max(5.0, have / max(1, runtime.storage.scalar("SELECT uniqExact(vid) FROM events WHERE site = {s:String}", {"s": SITE})))
        visitors = max(1000, min(50_000, int((target - have) / per_visitor)))
        result = seed(runtime, SITE, visitors=visitors, days=30, seed=1000 + batch)
        batch += 1
        have = count()
        print(f"seeded {result.events:,} events in {result.seconds:.1f}s (site now {have:,})", flush=True)
    return have


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="data dir (kept: a second run reuses the seeded events)")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    from starlette.testclient import TestClient

    from tracker.app import create_app
    from tracker.config import Settings
    from tracker.runtime import Runtime

    settings = Settings.load({"data_dir": args.data, "rate_reports_per_token": 0}, env={})
    runtime = Runtime.open(settings)
    try:
        events = ensure_events(runtime, args.events)
        token, _ = runtime.tokens.create(role="admin", name="dash-bench")
        app = create_app(settings, runtime=runtime)
        today = datetime.now(UTC).date()
        base = {"site": SITE, "from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat(), "traffic": "trusted"}
        prev = {"from": (today - timedelta(days=59)).isoformat(), "to": (today - timedelta(days=30)).isoformat()}
        with TestClient(app, base_url="http://localhost") as web:
            login = web.get("/dashboard/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', login.text).group(1)
            assert web.post("/dashboard/login", data={"token": token, "csrf": csrf}, follow_redirects=False).status_code == 303
            # The trust wing materialises per-day signals in the background; do it now so the
            # timings below are the steady state a user sees, not the first-start catch-up.
            t0 = time.perf_counter()
            r = web.post("/api/trust/refresh", params=base, headers={"Authorization": f"Bearer {token}"})
            print(f"trust refresh: HTTP {r.status_code} in {time.perf_counter() - t0:.1f}s", flush=True)
            promos = [r["promo_id"] for r in web.get("/api/reports/promotions", params=base).json()["rows"]]
            calls = page_calls(promos)
            timings: dict[str, list[tuple[float, float, float]]] = {name: [] for name in calls}
            for run in range(args.runs + 1):
                for name, (url, api) in calls.items():
                    t0 = time.perf_counter()
                    r = web.get(f"{url}{'&' if '?' in url else '?'}site={SITE}&range=30")
                    html = time.perf_counter() - t0
                    assert r.status_code == 200, (url, r.status_code)
                    spent, slowest = 0.0, 0.0
                    for path, extra in api:
                        params = {**base, **{k: v for k, v in extra.items() if k != "__prev__"}, **(prev if "__prev__" in extra else {})}
                        t1 = time.perf_counter()
                        resp = web.get(f"/api/{path}", params=params)
                        took = time.perf_counter() - t1
                        assert resp.status_code == 200, (path, resp.status_code, resp.text[:200])
                        spent += took
                        slowest = max(slowest, took)
                    if run:  # run 0 warms caches
                        timings[name].append((html, spent, slowest))
        print(f"\n{events:,} events on site {SITE!r}, last 30 days, trusted traffic, medians of {args.runs} runs (ms)\n")
        print("| page | HTML | all API calls (sum) | slowest API call | calls |")
        print("|---|---:|---:|---:|---:|")
        for name, rows in timings.items():
            html = statistics.median(r[0] for r in rows) * 1000
            total = statistics.median(r[1] for r in rows) * 1000
            slow = statistics.median(r[2] for r in rows) * 1000
            print(f"| {name} | {html:.0f} | {total:.0f} | {slow:.0f} | {len(calls[name][1])} |")
    finally:
        runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
