"""Export: every stored record of one visitor, as JSON (`GET /api/privacy/visitors/{vid}`: a visitor's review of their data).

Reads every table that has a `vid` column (see `tables.py`) and the rows still waiting in the
spool, while the flusher is paused so a row is neither missed nor shown twice while it moves
from the spool into ClickHouse. Replacing tables are read with FINAL (a duplicated event is
one record); aggregate states are finalised into readable values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tracker.privacy import pending
from tracker.privacy.tables import visitor_tables


def json_default(value: Any) -> Any:
    """orjson fallback for ClickHouse values it does not know (Decimal, IP types, ...)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def export(runtime, vid: str, site: str | None = None) -> dict:
    storage, spool, flusher = runtime.storage, runtime.spool, runtime.flusher
    params = {"vid": vid, "site": site or ""}
    tables: dict[str, list[dict]] = {}
    with flusher.paused():
        waiting = pending.find(spool, vid, site)
        for table in visitor_tables(storage):
            tables[table.name] = storage.dicts(
                f"SELECT {table.select_list()} FROM {_q(table.read_from)}{table.final} WHERE {table.where(site)}{_order(table)}",
                params,
                what=f"exporting a visitor from {table.name}",
            )
    counts = {name: len(rows) for name, rows in tables.items()}
    counts["spool"] = len(waiting)
    return {
        "vid": vid,
        "site": site,
        "exported_at": datetime.now(UTC),
        "counts": counts,
        "tables": tables,
        "pending": waiting,
    }


def _order(table) -> str:
    names = [c for c, _ in table.columns]
    time_column = next((c for c in ("ts", "at", "last_seen", "first_seen") if c in names), None)
    return f" ORDER BY {_q(time_column)}" if time_column else ""


def _q(name: str) -> str:
    from tracker.privacy.tables import quote

    return quote(name)
