"""tracker audit [--since DATE] [--by ID|NAME] [--limit N] [--json] — who called what. (`--by`, not `--token`:
`--token` is the admin token every command may send to `--server`.)"""

from __future__ import annotations

import sys

import orjson

from tracker.cli import add_data_args, settings_from
from tracker.cli._api import connect


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
    print(f"{'AT':<24}{'TOKEN':<24}{'ROLE':<10}{'METHOD':<8}{'ROUTE':<36}{'SITE':<16}{'STATUS':>6}{'MS':>9}")
    for r in rows:
        who = r["token_name"] or (r["token_id"] or "-")
        print(
            f"{str(r['at'])[:23]:<24}{who[:23]:<24}{r['role'] or '-':<10}{r['method']:<8}{r['route'][:35]:<36}"
            f"{(r['site'] or '-')[:15]:<16}{r['status']:>6}{r['duration_ms']:>9.1f}"
        )
    return 0
