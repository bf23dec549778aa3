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
from tracker.reports import _sql
from tracker.reports._params import Common, int_param, parse_common
from tracker.reports.overview import rate
from tracker.reports.trust import cache as trust_cache

DEFAULT_DEPTH = 3
MAX_DEPTH = 10
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
MAX_PATH_LEN = 2048


@dataclass(frozen=True)
class Params:
    common: Common
    start: str
    depth: int = DEFAULT_DEPTH
    limit: int = DEFAULT_LIMIT

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Params:
        common = parse_common(query)
        return cls(
            common,
            start=clean_path(query.get("start")),
            depth=int_param(query, "depth", DEFAULT_DEPTH, 1, MAX_DEPTH),
            limit=int_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT),
        )


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


def paths_sql(trusted_only: bool) -> str:
    return f"""
    SELECT sequence, count() AS sessions, sum(count()) OVER () AS total
    FROM (
        SELECT arraySlice(arrayDistinct(arrayFilter(p -> p != start, arraySlice(s, indexOf(s, start) + 1))), 1, {{depth:UInt8}}) AS sequence
        FROM (SELECT *, cityHash64({{start_path:String}}) AS start
              FROM ({_sql.pageview_sessions(trusted_only, "has(pv_paths, cityHash64({start_path:String}))")}))
        ARRAY JOIN sessions AS s
        WHERE has(s, start)
    )
    GROUP BY sequence
    ORDER BY sessions DESC, sequence
    LIMIT {{limit:UInt32}}"""


NAMES_SQL = f"SELECT h, name FROM ({_sql.PATH_NAMES}) WHERE h IN {{hashes:Array(UInt64)}}"


def run(storage, params: Params) -> dict:
    params = trust_cache.prepare(storage, params)
    common = params.common
    bind = {**common.bind(), "start_path": params.start, "depth": params.depth, "limit": params.limit}
    rows = storage.dicts(paths_sql(common.trusted_only), bind, what="paths report")
    hashes = sorted({h for r in rows for h in r["sequence"]})
    names = dict(storage.query(NAMES_SQL, {**bind, "hashes": hashes}, what="paths report").rows) if hashes else {}
    total = int(rows[0]["total"]) if rows else 0
    return {
        "site": common.site,
        "from": common.start.isoformat(),
        "to": common.end.isoformat(),
        "traffic": common.traffic,
        "start": params.start,
        "depth": params.depth,
        "sessions": total,
        "rows": shape_rows([{**r, "sequence": [names.get(h, "") for h in r["sequence"]]} for r in rows], total),
    }


def shape_rows(rows: Sequence[Mapping[str, object]], total: int) -> list[dict]:
    """Sequences with counts and shares of the sessions that reached `start` (pure).
    The empty sequence (sessions that ended on `start`) is reported as `exit: true`."""
    return [
        {
            "sequence": list(r["sequence"]),
            "path": " → ".join(r["sequence"]) if r["sequence"] else "(exit)",
            "count": int(r["sessions"]),
            "share": rate(int(r["sessions"]), total),
            "exit": not r["sequence"],
        }
        for r in rows
    ]
