"""Which tables hold visitor data: every MergeTree-family table with a `vid` column.

Found in `system.columns` at request time, not listed by hand, so a table another part of
tracker adds later (trust scores, materialised signals) is exported and erased without
anyone remembering to register it here. In cluster mode the data lives in `<t>_local`
tables (erased on every node) and is read through the Distributed `<t>`.

Every identifier used in SQL comes from `system.columns` of our own database and is quoted;
the visitor id and site are always bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracker.storage.client import Storage

_STRING_TYPES = ("String", "LowCardinality(String)", "Nullable(String)", "LowCardinality(Nullable(String))")
_FINAL_ENGINES = ("Replacing", "Collapsing", "Aggregating", "Summing", "VersionedCollapsing")


def quote(identifier: str) -> str:
    return "`" + identifier.replace("\\", "\\\\").replace("`", "\\`") + "`"


@dataclass(frozen=True)
class VisitorTable:
    name: str  # what callers see: `events` (the Distributed table in cluster mode)
    read_from: str  # the table to SELECT from
    write_to: str  # the table lightweight deletes run on (`events_local` in cluster mode)
    engine: str
    columns: tuple[tuple[str, str], ...]  # (name, type) in table order
    has_site: bool
    has_row_json: bool  # dead letters: the row's site is inside its JSON

    @property
    def final(self) -> str:
        return " FINAL" if any(k in self.engine for k in _FINAL_ENGINES) else ""

    def where(self, site: str | None) -> str:
        """Filter on the bound `{vid:String}` (and `{site:String}` when scoped)."""
        clause = "vid = {vid:String}"
        if site is not None:
            if self.has_site:
                clause += " AND site = {site:String}"
            elif self.has_row_json:
                clause += " AND JSONExtractString(row, 'site') = {site:String}"
        return clause

    def select_list(self) -> str:
        """Readable values: aggregate states are finalised, everything else as stored."""
        parts = []
        for column, kind in self.columns:
            if kind.startswith("AggregateFunction("):
                parts.append(f"finalizeAggregation({quote(column)}) AS {quote(column)}")
            else:
                parts.append(quote(column))
        return ", ".join(parts)


def visitor_tables(storage: Storage) -> list[VisitorTable]:
    all_tables = dict(
        storage.query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()",
                      what="finding tables that hold visitor data").rows
    )
    engines = {name: engine for name, engine in all_tables.items() if "MergeTree" in engine}
    rows = storage.dicts(
        "SELECT table AS tbl, arraySort(groupArray((position, name, type))) AS cols FROM system.columns "
        "WHERE database = currentDatabase() AND default_kind NOT IN ('ALIAS', 'MATERIALIZED', 'EPHEMERAL') "
        "GROUP BY table HAVING has(groupArray(name), 'vid') ORDER BY tbl",
        what="finding tables that hold visitor data",
    )
    cluster = bool(storage.cluster)
    found = []
    for row in rows:
        if row["tbl"] not in engines:
            continue  # views, Distributed tables, dictionaries: they hold no rows of their own
        columns = tuple((str(c[1]), str(c[2])) for c in row["cols"])
        types = dict(columns)
        if types.get("vid") not in _STRING_TYPES:
            continue
        local = row["tbl"]
        name = local[: -len("_local")] if cluster and local.endswith("_local") else local
        found.append(
            VisitorTable(
                name=name,
                read_from=name if name in all_tables else local,  # a local table without its Distributed one: this shard only
                write_to=local,
                engine=engines[row["tbl"]],
                columns=columns,
                has_site="site" in types,
                has_row_json="site" not in types and types.get("row") == "String",
            )
        )
    return found
