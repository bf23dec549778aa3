"""tracker audit [--since DATE] [--by ID|NAME] [--limit N] [--json] — who called what. (`--by`, not `--token`:
`--token` is the admin token every command may send to `--server`.)"""

from __future__ import annotations

import sys

import orjson

from tracker.cli import add_data_args, settings_from
from tracker.cli._api import connect
from tracker.cli._table import print_table


def register(sub) -> None:
    p = sub.add_parser("audit", help="show the audit log of API calls (newest first)")
    p.add_argument("--since", metavar="DATE", help="ISO date or datetime, UTC (default: 24 hours ago)")
    p.add_argument("--by", metavar="TOKEN", help="only calls made with this token (id or name)")
    p.add_argument("--limit", type=int, default=100, help="most rows to show (default 100)")
    p.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    add_data_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    with connect(settings_from(args)) as api:
        rows = api.request("GET", "/api/admin/audit", params={"since": args.since, "token": args.by, "limit": args.limit})["rows"]
    if args.json:
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print_table(["at", "token", "role", "method", "route", "site", "status", "duration_ms", "what"],
                [[str(r["at"])[:23], r["token_name"] or (r["token_id"] or "-"), r["role"] or "-", r["method"], r["route"],
                  r["site"] or "-", r["status"], round(r["duration_ms"], 1), r.get("detail") or ""] for r in rows])
    return 0
