"""tracker import FILE.jsonl --site SITE: trusted backfill with a progress bar."""

from __future__ import annotations

import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tracker.cli import CliError, add_data_args, settings_from
from tracker.cli._api import connect

CHUNK_LINES = 50_000
IN_FLIGHT = 2


def register(sub) -> None:
    p = sub.add_parser("import", help="import events from a JSON-lines file (trusted backfill)")
    p.add_argument("file", help="JSON lines: one event a line with vid and ts ('-' for stdin)")
    p.add_argument("--site", required=True)
    add_data_args(p)
    p.set_defaults(func=run)


def _chunks(stream, size: int):
    lines: list[bytes] = []
    first = 1
    number = 0
    for number, line in enumerate(stream, start=1):
        lines.append(line.rstrip(b"\r\n"))
        if len(lines) >= size:
            yield first, lines
            first, lines = number + 1, []
    if lines:
        yield first, lines


def _bar(done: int, total: int, accepted: int, bad: int, started: float) -> str:
    width = 30
    frac = done / total if total else 1.0
    rate = accepted / max(1e-9, time.monotonic() - started)
    return f"\r[{'#' * int(frac * width):<{width}}] {frac:6.1%}  {accepted:,} events  {bad:,} bad lines  {rate:,.0f} ev/s"


def run(args) -> int:
    path = Path(args.file)
    if args.file != "-" and not path.is_file():
        raise CliError(f"no such file: {args.file}")
    total = path.stat().st_size if args.file != "-" else 0
    stream = sys.stdin.buffer if args.file == "-" else path.open("rb")
    accepted = bad = done = 0
    started = time.monotonic()
    tty = sys.stderr.isatty()
    def send(api, first: int, body: bytes) -> dict:
        return api.request("POST", "/api/admin/import", params={"site": args.site, "first_line": first}, content=body)

    try:
        with connect(settings_from(args)) as api, ThreadPoolExecutor(max_workers=IN_FLIGHT) as senders:
            # Two chunks in flight: the server encodes one while it inserts the other.
            pending: deque = deque()

            def settle() -> None:
                nonlocal accepted, bad, done
                size, lines_in_chunk, future = pending.popleft()
                result = future.result()
                accepted += result["accepted"]
                for error in result["errors"]:
                    bad += 1
                    print(f"line {error['line']}: {error['error']}", file=sys.stderr)
                done += size + lines_in_chunk
                line = _bar(done, total, accepted, bad, started)
                print(line if tty or not total else line.strip("\r"), end="" if tty or not total else "\n", file=sys.stderr, flush=True)

            for first, lines in _chunks(stream, CHUNK_LINES):
                body = b"\n".join(lines)
                pending.append((len(body), len(lines), senders.submit(send, api, first, body)))
                if len(pending) >= IN_FLIGHT:
                    settle()
            while pending:
                settle()
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    elapsed = time.monotonic() - started
    if tty:
        print(file=sys.stderr)
    print(f"imported {accepted:,} events into {args.site} in {elapsed:.1f}s ({accepted / max(elapsed, 1e-9):,.0f} events/s); {bad:,} bad lines skipped")
    return 0 if accepted or not bad else 1
