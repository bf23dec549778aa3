"""tracker site add|list: the sites and the page origins allowed to send to them."""

from __future__ import annotations

from tracker.cli import add_data_args, settings_from
from tracker.cli._api import connect
from tracker.cli._table import print_table


def register(sub) -> None:
    p = sub.add_parser("site", help="manage sites")
    s = p.add_subparsers(dest="site_command", metavar="ACTION")
    s.required = True
    add = s.add_parser("add", help="register a site (or add origins to it)")
    add.add_argument("site")
    add.add_argument("--origin", action="append", default=[], help="page origin allowed to send, e.g. https://shop.example (repeatable)")
    add.add_argument("--replace", action="store_true", help="set exactly these origins instead of adding them")
    add_data_args(add)
    add.set_defaults(func=run_add)
    ls = s.add_parser("list", help="list sites")
    add_data_args(ls)
    ls.set_defaults(func=run_list)


def run_add(args) -> int:
    with connect(settings_from(args), creates=True) as api:
        site = api.request("POST", "/api/admin/sites", json={"site": args.site, "origins": args.origin, "replace": args.replace})
    print(f"site {site['site']}: origins {', '.join(site['origins']) or '(none: only server-side senders)'}")
    return 0


def run_list(args) -> int:
    with connect(settings_from(args)) as api:
        rows = api.request("GET", "/api/admin/sites")["rows"]
    # An origin is listed once (stores written before serve deduplicated the demo's may repeat one).
    print_table(["site", "origins"], [[row["site"], " ".join(dict.fromkeys(row["origins"])) or "(server-side senders only)"]
                                      for row in rows])
    return 0
