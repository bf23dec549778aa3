"""tracker import FILE.jsonl --site SITE: trusted backfill with a progress bar."""

from __future__ import annotations

import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from tracker.cli import CliError, add_data_args, settings_from
from tracker.cli._api import connect

# A chunk is whole lines, about CHUNK_BYTES of them (the server takes up to 32 MiB a request).
# Each chunk is one insert, so one new part in ClickHouse: parts of ~90k events instead of 50k
# cost less per event to write (fewer files a row) and to merge. The server encodes one chunk
# while it inserts the one before, so the first encode and the last insert overlap nothing:
# chunks grow from FIRST_CHUNK_BYTES at the start and shrink again towards the end of a file.
CHUNK_BYTES = 24 * 1024 * 1024
FIRST_CHUNK_BYTES = 1024 * 1024
READ_BYTES = 1024 * 1024
IN_FLIGHT = 2


def register(sub) -> None:
    p = sub.add_parser("import", help="import events from a JSON-lines file (trusted backfill)")
    p.add_argument("file", help="JSON lines: one event a line with vid and ts ('-' for stdin)")
    p.add_argument("--site", required=True)
    add_data_args(p)
    p.set_defaults(func=run)


def _chunk_sizes(total: int | None, largest: int = CHUNK_BYTES, smallest: int = FIRST_CHUNK_BYTES):
    """Target bytes of each chunk: doubling from `smallest` to `largest`, and, when the file's
    size is known, no more than half of what is left (never under `smallest`)."""
    target, taken = smallest, 0
    while True:
        size = target if total is None else min(target, max(smallest, (total - taken) // 2))
        taken = yield size
        target = min(largest, target * 2)


def _chunks(stream, size: int = CHUNK_BYTES, read: int = READ_BYTES, *, total: int | None = None, smallest: int = FIRST_CHUNK_BYTES):
    """(first line number, the lines joined by "\n", bytes of the file they took): chunks of
    whole lines sized by `_chunk_sizes`. A line is what lies between two "\n", trailing "\r"s
    dropped: what iterating the file and `rstrip(b"\r\n")` gave, without a Python step a line."""
    sizes = _chunk_sizes(total, size, min(smallest, size))
    target = next(sizes)
    first = 1
    taken = 0
    parts: list[bytes] = []  # whole lines read and not sent, "\n" included
    held = 0
    tail: list[bytes] = []  # the start of a line whose end is not read yet
    while True:
        block = stream.read(read)
        if block:
            cut = block.rfind(b"\n") + 1
            if not cut:
                tail.append(block)
                continue
            parts.append(b"".join(tail) + block[:cut] if tail else block[:cut])
            held += len(parts[-1])
            tail = [block[cut:]] if cut < len(block) else []
            if held < target:
                continue
        unended = 0
        if not block and tail:  # the last line has no "\n"
            parts.append(b"".join(tail) + b"\n")
            tail, unended = [], 1
        if parts:
            text = b"".join(parts)
            parts, held = [], 0
            body = text[:-1]
            if b"\r" in body:
                body = b"\n".join(line.rstrip(b"\r") for line in body.split(b"\n"))
            yield first, body, len(text) - unended
            first += text.count(b"\n")
            taken += len(text) - unended
            target = sizes.send(taken)
        if not block:
            return


class Progress:
    """The import's progress on stderr: a rich progress bar on a terminal; elsewhere (a log, a
    pipe) one plain line a chunk. Bad lines are printed above the bar, never lost in it."""

    def __init__(self, total: int | None):
        self.total, self.started = total, time.monotonic()
        self._bar: RichProgress | None = None
        if sys.stderr.isatty():
            self._bar = RichProgress(
                BarColumn(), TaskProgressColumn(), TextColumn("{task.fields[accepted]:,} events  {task.fields[bad]:,} bad lines"),
                TextColumn("{task.fields[rate]:,.0f} ev/s"), TimeElapsedColumn(), console=Console(stderr=True), transient=False)
            self._task = self._bar.add_task("import", total=total, accepted=0, bad=0, rate=0.0)
            self._bar.start()

    def note(self, message: str) -> None:
        if self._bar is not None:
            self._bar.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=sys.stderr, flush=True)

    def update(self, done: int, accepted: int, bad: int) -> None:
        rate = accepted / max(1e-9, time.monotonic() - self.started)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, accepted=accepted, bad=bad, rate=rate)
            return
        share = f"{done / self.total:6.1%}  " if self.total else ""
        print(f"{share}{accepted:,} events  {bad:,} bad lines  {rate:,.0f} ev/s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def run(args) -> int:
    path = Path(args.file)
    if args.file != "-" and not path.is_file():
        raise CliError(f"no such file: {args.file}")
    total = path.stat().st_size if args.file != "-" else 0
    stream = sys.stdin.buffer if args.file == "-" else path.open("rb")
    accepted = bad = done = 0
    started = time.monotonic()
    progress = Progress(total or None)

    def send(api, first: int, body: bytes) -> dict:
        return api.request("POST", "/api/admin/import", params={"site": args.site, "first_line": first}, content=body)

    try:
        with connect(settings_from(args), creates=True) as api, ThreadPoolExecutor(max_workers=IN_FLIGHT) as senders:
            # Two chunks in flight: the server encodes one while it inserts the other.
            pending: deque = deque()

            def settle() -> None:
                nonlocal accepted, bad, done
                size, future = pending.popleft()
                result = future.result()
                accepted += result["accepted"]
                for error in result["errors"]:
                    bad += 1
                    progress.note(f"line {error['line']}: {error['error']}")
                done += size
                progress.update(done, accepted, bad)

            for first, body, size in _chunks(stream, total=total or None):
                pending.append((size, senders.submit(send, api, first, body)))
                if len(pending) >= IN_FLIGHT:
                    settle()
            while pending:
                settle()
    finally:
        progress.close()
        if stream is not sys.stdin.buffer:
            stream.close()
    elapsed = time.monotonic() - started
    rate = accepted / max(elapsed, 1e-9)
    print(f"imported {accepted:,} events into {args.site} in {elapsed:.1f}s ({rate:,.0f} events/s); {bad:,} bad lines skipped")
    return 0 if accepted or not bad else 1
