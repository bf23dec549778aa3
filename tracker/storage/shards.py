"""Per-visitor work on the visitor's own shard.

On a cluster (`TRACKER_CLUSTER`) the tables sharded by visitor (`events`, `visitor_signals`,
`trust_sets`, all on `cityHash64(vid)`) keep each visitor's rows on one shard. A report's
per-visitor level (a GROUP BY visitor: session cutting, funnel walks, trust partials) can
therefore run on every shard over that shard's own rows, and only the per-visitor rows it
yields need to reach the node that took the query. Read through the Distributed table inside
a subquery, the same level ships every raw event row to that node first (measured on the
two-shard harness: all 10,006 event rows of shard 2, against ~220 per-visitor rows shard-local;
`optimize_distributed_group_by_sharding_key` applies only to a query that reads the
Distributed table itself, never to a subquery).

Reports say where that boundary is, and this module turns it into SQL for the backend:
- `shard_local(sql)` marks a complete SELECT whose rows are per visitor (or finer, e.g. per
  session) and that depends only on the visitor's own rows of the local tables it reads;
- `local(table)` names a table sharded by visitor as it should be read inside such a SELECT.

`render` (called by `Storage` on every statement) makes them plain SQL:
- one node (embedded or a server): the markers are removed, so the SQL is byte for byte what
  it was without them;
- a cluster: each outermost marked SELECT becomes
  `SELECT * FROM cluster('<cluster>', view(<the SELECT>))`, with its `local(t)` tables read as
  `<db>.<t>_local`: every shard runs it over its own visitors, and the query around it (which
  adds visitors up, dedups orders across visitors, etc.) runs once, on the initiator, over
  the union of the shards' rows, exactly as it ran over one node's rows. A `local(t)` outside
  any marked SELECT stays the Distributed `t`, and every unmarked table inside one (the
  registries, `orders`, a cross-visitor lookup such as the first purchase of an order id) is
  the Distributed table too, read in full by each shard: correct, whatever its sharding.
  Tables are qualified with the database inside `view()`: a shard runs it in its default one.

Markers are SQL comments, so marked SQL that escaped rendering would still run, on the
Distributed tables. Bound parameters work inside `view()`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

BEGIN = "/*shard_local(*/"
END = "/*)shard_local*/"
_LOCAL = "/*local*/"
_LOCAL_TABLE = re.compile(re.escape(_LOCAL) + r"(\w+)")
_MARK = re.compile(re.escape(BEGIN) + "|" + re.escape(END))


@cache
def _tables() -> re.Pattern:
    """`FROM t` / `JOIN t` for every table of the schema (from the migrations): inside a marked
    SELECT each is qualified with the database, since a shard runs it in its own default one."""
    names = {name for entry in resources.files("tracker.storage.migrations").iterdir() if entry.name.endswith(".sql")
             for name in re.findall(r"CREATE TABLE IF NOT EXISTS \$\{(\w+)\}", entry.read_text(encoding="utf-8"))}
    return re.compile(r"\b(FROM|(?<!ARRAY\s)JOIN)\s+(" + "|".join(sorted(names)) + r")\b(?!\s*\()")


def shard_local(sql: str) -> str:
    """`sql` (a complete SELECT of per-visitor rows) marked to run on each shard over its own
    visitors (see the module docstring)."""
    return f"{BEGIN}{sql}{END}"


def local(table: str) -> str:
    """`table` (sharded by visitor) as a marked SELECT reads it: the shard's own rows."""
    return f"{_LOCAL}{table}"


def render(sql: str, cluster: str = "", database: str = "") -> str:
    """Marked SQL -> SQL for one node (`cluster` empty) or for the cluster `cluster`."""
    if BEGIN not in sql and END not in sql and _LOCAL not in sql:
        return sql
    if not cluster:
        return _LOCAL_TABLE.sub(r"\1", _MARK.sub("", sql))
    out: list[str] = []
    depth, start, pos = 0, 0, 0
    for mark in _MARK.finditer(sql):
        if mark.group() == BEGIN:
            if depth == 0:
                out.append(_LOCAL_TABLE.sub(r"\1", sql[pos:mark.start()]))
                start = mark.end()
            depth += 1
        else:
            if depth == 0:
                raise ValueError("a shard_local end marker without its start")
            depth -= 1
            if depth == 0:
                inner = _LOCAL_TABLE.sub(lambda m: f"`{database}`.`{m.group(1)}_local`", _MARK.sub("", sql[start:mark.start()]))
                inner = _tables().sub(lambda m: f"{m.group(1)} `{database}`.`{m.group(2)}`", inner)
                name = cluster.replace("\\", "\\\\").replace("'", "\\'")
                out.append(f"SELECT * FROM cluster('{name}', view({inner}))")
                pos = mark.end()
    if depth:
        raise ValueError("a shard_local start marker without its end")
    out.append(_LOCAL_TABLE.sub(r"\1", sql[pos:]))
    return "".join(out)
