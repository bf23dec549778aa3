"""Import throughput: `tracker import` of N generated JSON lines on the embedded default.

    .venv/bin/python loadtests/bench_import.py [--lines 1000000]

Generates a realistic file (pageviews, promo events, purchases; ip and ua per line), then
runs the real CLI (`python -m tracker import`) on a fresh data dir with no server, and prints
lines/s as measured from outside the process (start-up included) and as the CLI reports it.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
]


def generate(path: Path, lines: int) -> None:
    rnd = random.Random(7)
    t0 = 1767225600000
    with path.open("wb") as out:
        for i in range(lines):
            vid = f"v{rnd.randrange(lines // 8 or 1)}"
            kind = rnd.choices(["pageview", "promo_view", "promo_click", "purchase"], [80, 12, 5, 3])[0]
            event = {"type": kind, "id": f"imp-{i}", "url": f"https://shop.example/p/{rnd.randrange(500)}?utm_source=news", "vid": vid,
                     "ts": t0 + i * 50, "ip": f"198.51.{rnd.randrange(256)}.{rnd.randrange(256)}", "ua": rnd.choice(UAS)}
            if kind.startswith("promo"):
                event["promo"] = {"id": f"P{rnd.randrange(20)}", "variant": "exposed"}
            if kind == "purchase":
                event["order"] = {"id": f"o{i}", "revenue": round(rnd.uniform(5, 200), 2), "currency": "EUR"}
            out.write(orjson.dumps(event) + b"\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-import-"))
    try:
        src = work / "events.jsonl"
        generate(src, args.lines)
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "tracker", "import", str(src), "--site", "shop", "--data", str(work / "data")],
                             capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        print(out.stdout.strip())
        print(f"{args.lines:,} lines, {src.stat().st_size / 1e6:.0f} MB: {wall:.1f}s wall including start-up = {args.lines / wall:,.0f} lines/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
