"""tracker privacy export|erase VID [--site SITE] — the privacy API (`/api/privacy/visitors/{vid}`) from the command line."""

from __future__ import annotations

import sys
from urllib.parse import quote

import orjson

from tracker.cli import CliError, add_data_args, settings_from
from tracker.cli._api import connect


def register(sub) -> None:
    p = sub.add_parser("privacy", help="export or erase everything stored about one visitor")
    s = p.add_subparsers(dest="privacy_command", metavar="ACTION")
    s.required = True
    export = s.add_parser("export", help="print every stored record of the visitor as JSON")
    export.add_argument("vid")
    export.add_argument("--site", help="only this site's records")
    add_data_args(export)
    export.set_defaults(func=run_export)
    erase = s.add_parser("erase", help="erase the visitor everywhere (events, trust data, spool, dead letters)")
    erase.add_argument("vid")
    erase.add_argument("--site", help="only this site's records")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_data_args(erase)
    erase.set_defaults(func=run_erase)


def _path(vid: str) -> str:
    return "/api/privacy/visitors/" + quote(vid, safe="")


def run_export(args) -> int:
    with connect(settings_from(args)) as api:
        body = api.request("GET", _path(args.vid), params={"site": args.site})
    sys.stdout.write(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def run_erase(args) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            raise CliError("erasing cannot be undone: pass --yes to confirm")
        where = f" on site {args.site}" if args.site else " on every site"
        answer = input(f"erase every record of visitor {args.vid}{where}? this cannot be undone [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing erased")
            return 1
    with connect(settings_from(args)) as api:
        result = api.request("DELETE", _path(args.vid), params={"site": args.site})
    parts = ", ".join(f"{table} {n}" for table, n in sorted(result["erased"].items()) if n)
    print(f"erased {result['total']} record(s) of visitor {args.vid}" + (f" ({parts})" if parts else ""))
    return 0
