"""A constant-rate (open-loop) load generator for /api/collect: latency at a given rate.

    python loadtests/constant_rate.py HOST:PORT --rate 1000 --seconds 10 [--batch 20] [--connections 64]

wrk measures latency at saturation, where every request waits behind the others. This sends
request i at its scheduled time start + i/rate, whatever happened to earlier ones, over a pool
of keep-alive connections, and measures each latency from the *scheduled* time, so a stall of
the server shows up in every request it delayed (no coordinated omission, as in wrk2). Prints
one JSON object: the rate achieved, percentiles in ms, errors and non-202 answers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import orjson

UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"


def body(run: str, counter: int, batch: int, site: str) -> bytes:
    events = [
        {"type": "pageview", "id": f"{run}-{counter}-{i}", "url": f"https://shop.example/product/{i % 50}?utm_source=newsletter&utm_medium=email",
         "ts": 1764000000000, "ref": "https://www.google.com/", "sid": f"s{counter}",
         "env": {"webdriver": False, "screen": "1920x1080", "lang": "en-US", "tz": "Europe/Paris"}}
        for i in range(batch)
    ]
    return orjson.dumps({"site": site, "events": events})


async def run(host: str, port: int, rate: float, seconds: float, batch: int, connections: int, site: str, run_id: str) -> dict:
    total = int(rate * seconds)
    bodies = [body(run_id, i, batch, site) for i in range(total)]
    latencies: list[float] = []
    errors = non202 = 0
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.5
    next_index = 0

    async def connection() -> None:
        nonlocal next_index, errors, non202
        reader, writer = await asyncio.open_connection(host, port)
        while True:
            index = next_index
            if index >= total:
                break
            next_index += 1
            scheduled = start + index / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            payload = bodies[index]
            head = (f"POST /api/collect HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: text/plain\r\nUser-Agent: {UA}\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n").encode()
            try:
                writer.write(head + payload)
                headers = await reader.readuntil(b"\r\n\r\n")
                length = int(headers.lower().split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
                errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                continue
            latencies.append(loop.time() - scheduled)
            if not headers.startswith(b"HTTP/1.1 202"):
                non202 += 1
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - began - 0.5
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000, 2) if latencies else float("nan")

    return {"target_rps": rate, "achieved_rps": round(len(latencies) / elapsed, 1), "requests": len(latencies), "events_per_s": round(len(latencies) * batch / elapsed),
            "p50": pct(50), "p90": pct(90), "p99": pct(99), "p999": pct(99.9), "max": pct(100), "errors": errors, "non202": non202}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("target", help="HOST:PORT")
    ap.add_argument("--rate", type=float, required=True, help="requests per second")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--site", default="demo")
    ap.add_argument("--run", default="cr")
    args = ap.parse_args()
    host, port = args.target.rsplit(":", 1)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    result = runner(run(host, int(port), args.rate, args.seconds, args.batch, args.connections, args.site, args.run))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
