"""tracker site add|set|list: the sites, the page origins allowed to send to them, and their
settings (`set --revenue-ceiling`)."""

from __future__ import annotations

import math
from urllib.parse import quote

from tracker.cli import CliError, add_data_args, settings_from
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
    cfg = s.add_parser("set", help="change a site's settings")
    cfg.add_argument("site")
    cfg.add_argument("--revenue-ceiling", required=True, metavar="AMOUNT",
                     help="most revenue a purchase the shop's backend has not confirmed counts for, in the site's currency; "
                          "0: automatic (revenue_ceiling_factor x the site's median order)")
    add_data_args(cfg)
    cfg.set_defaults(func=run_set)
    ls = s.add_parser("list", help="list sites")
    add_data_args(ls)
    ls.set_defaults(func=run_list)


def run_add(args) -> int:
    with connect(settings_from(args), creates=True) as api:
        site = api.request("POST", "/api/admin/sites", json={"site": args.site, "origins": args.origin, "replace": args.replace})
    print(f"site {site['site']}: origins {', '.join(site['origins']) or '(none: only server-side senders)'}")
    return 0


def _ceiling(site: dict) -> str:
    return "automatic" if site.get("revenue_ceiling") is None else f"{site['revenue_ceiling']:g}"


def run_set(args) -> int:
    try:
        ceiling = float(args.revenue_ceiling)
    except ValueError:
        raise CliError(f"--revenue-ceiling must be a number (0: automatic), got {args.revenue_ceiling!r}") from None
    if not math.isfinite(ceiling):
        raise CliError(f"--revenue-ceiling must be a finite number (0: automatic), got {args.revenue_ceiling!r}")
    with connect(settings_from(args)) as api:
        site = api.request("PATCH", f"/api/admin/sites/{quote(args.site, safe='')}", json={"revenue_ceiling": ceiling})
    print(f"site {site['site']}: revenue ceiling {_ceiling(site)}")
    return 0


def run_list(args) -> int:
    with connect(settings_from(args)) as api:
        rows = api.request("GET", "/api/admin/sites")["rows"]
    # An origin is listed once (stores written before serve deduplicated the demo's may repeat one).
    print_table(["site", "origins", "revenue ceiling"],
                [[row["site"], " ".join(dict.fromkeys(row["origins"])) or "(server-side senders only)", _ceiling(row)] for row in rows])
    return 0
