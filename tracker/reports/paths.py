"""`paths?start=/x&depth=N`: where do sessions go after `start`?

How the query works. `_sql.pageview_sessions` gives each visitor's sessions (30-minute-gap
rule over all of the visitor's events) as the ordered list of pageview path hashes; paths never
carry the query string. For every session that viewed `start`, the anchor is its FIRST view
of `start`; the sequence is the pages viewed after it, with `start` itself and repeats removed
(`arrayDistinct` keeps first occurrences, so reloads and back-and-forth do not count twice),
cut to the first `depth`. A session that ends on `start` has the empty sequence (it exited).
ClickHouse groups identical sequences and returns the most common ones (ties in hash order);
`share` is each sequence's count over all sessions that reached `start`. A second, small query
names the hashes of the returned rows (`_sql.PATH_NAMES`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tracker.errors import BadRequest
from tracker.reports import _sql, session_days, session_parts
from tracker.reports.figures import ratio
from tracker.reports.params import param
from tracker.reports.runner import Context

DEFAULT_DEPTH = 3
MAX_DEPTH = 10
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
MAX_PATH_LEN = 2048


def clean_path(raw: str | None) -> str:
    """A page path as stored: starts with '/', no query string or fragment."""
    if not raw:
        raise BadRequest("start is required: the path to start from, e.g. start=/cart")
    path = raw.split("#", 1)[0].split("?", 1)[0]
    if not path.startswith("/"):
        raise BadRequest("start must be a path beginning with '/', e.g. /cart")
    if len(path) > MAX_PATH_LEN or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        raise BadRequest(f"start must be a path of at most {MAX_PATH_LEN} printable characters")
    return path


@dataclass(frozen=True)
class Params:
    start: str = param("the page path sequences start from, e.g. /cart (required; any query string is ignored)", parse=clean_path)
    depth: int = param("pages after `start` per sequence", DEFAULT_DEPTH, lo=1, hi=MAX_DEPTH)
    limit: int = param("most sequences to return", DEFAULT_LIMIT, lo=1, hi=MAX_LIMIT)


def paths_sql(trusted_only: bool, filters=()) -> str:
    return f"""
    SELECT sequence, count() AS sessions, sum(count()) OVER () AS total
    FROM (
        SELECT arraySlice(arrayDistinct(arrayFilter(p -> p != start, arraySlice(s, indexOf(s, start) + 1))), 1, {{depth:UInt8}}) AS sequence
        FROM (SELECT *, cityHash64({{start_path:String}}) AS start
              FROM ({_sql.pageview_sessions(trusted_only, "has(pv_paths, cityHash64({start_path:String}))", filters)}))
        ARRAY JOIN sessions AS s
        WHERE has(s, start)
    )
    GROUP BY sequence
    ORDER BY sessions DESC, sequence
    LIMIT {{limit:UInt32}}"""


def rollup_sql(trusted_only: bool) -> str:
    """The same rows from session parts (`session_parts`; bind `session_days.bind_coverage`):
    only the sessions that viewed `start` are read whole."""
    sessions = session_parts.sessions_sql(trusted_only, having="has(pages, cityHash64({start_path:String}))")
    return f"""
    SELECT sequence, count() AS sessions, sum(count()) OVER () AS total
    FROM (
        SELECT arraySlice(arrayDistinct(arrayFilter(p -> p != start, arraySlice(pages, indexOf(pages, start) + 1))), 1, {{depth:UInt8}}) AS sequence
        FROM (SELECT pages, cityHash64({{start_path:String}}) AS start FROM ({sessions}))
    )
    GROUP BY sequence
    ORDER BY sessions DESC, sequence
    LIMIT {{limit:UInt32}}"""


NAMES_SQL = f"SELECT h, name FROM ({_sql.PATH_NAMES}) WHERE h IN {{hashes:Array(UInt64)}}"


def run(ctx: Context, params: Params, *, rollups: bool = True) -> dict:
    """`rollups=False` always cuts sessions from raw events (the tests' twin); without filters a
    range with covered days reads session parts: the same rows."""
    storage = ctx.storage
    bind, rollup = ctx.bind(start_path=params.start, depth=params.depth, limit=params.limit), False
    if rollups:
        bind, rollup = session_days.use_rollup(storage, ctx.scope, bind, by_day=False)
    sql = rollup_sql(ctx.scope.trusted_only) if rollup else paths_sql(ctx.scope.trusted_only, ctx.scope.filters)
    rows = storage.dicts(sql, bind, what="paths report")
    hashes = sorted({h for r in rows for h in r["sequence"]})
    names = dict(storage.query(NAMES_SQL, {**bind, "hashes": hashes}, what="paths report").rows) if hashes else {}
    total = int(rows[0]["total"]) if rows else 0
    return {
        "start": params.start,
        "depth": params.depth,
        "sessions": total,
        "rows": shape([{**r, "sequence": [names.get(h, "") for h in r["sequence"]]} for r in rows], total),
    }


def shape(rows: Sequence[Mapping[str, object]], total: int) -> list[dict]:
    """Sequences with counts and shares of the sessions that reached `start` (pure).
    The empty sequence (sessions that ended on `start`) is reported as `exit: true`."""
    return [
        {
            "sequence": list(r["sequence"]),
            "path": " → ".join(r["sequence"]) if r["sequence"] else "(exit)",
            "count": int(r["sessions"]),
            "share": ratio(int(r["sessions"]), total) or 0.0,
            "exit": not r["sequence"],
        }
        for r in rows
    ]
