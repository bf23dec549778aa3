"""tracker trust visitors|visitor VID|promotions|coupons|networks|refresh --site S: the fraud
team's view from the command line. A thin client of `/api/trust/*` (tracker.cli._api)."""

from __future__ import annotations

import json
from urllib.parse import quote

from tracker.cli import add_data_args, settings_from
from tracker.cli._api import connect
from tracker.cli._table import print_rows, print_table

COLUMNS = {
    "visitors": ("vid", "score", "reasons", "events", "first_seen", "last_seen"),
    "promotions": ("promo_id", "clicks", "suspicious_clicks", "suspicious_share", "top_prefixes"),
    "coupons": ("coupon", "verdict", "visitors", "ip_prefixes", "redemptions", "revenue", "unusual"),
    "networks": ("ip_prefix", "visitors", "events", "automated_events", "max_fresh_ids", "excluded_visitors", "reasons"),
}


def register(sub) -> None:
    p = sub.add_parser("trust", help="trust and safety: suspicious visitors, promotions, coupons, networks")
    s = p.add_subparsers(dest="trust_command", metavar="ACTION")
    s.required = True
    for name, help_text in (
        ("visitors", "visitors at or below a trust score, lowest first"),
        ("visitor", "one visitor's signals and event timeline"),
        ("promotions", "suspicious promo clicks per promotion"),
        ("coupons", "leaked and popular coupons (redeemed by unusually many visitors or IP prefixes), with the evidence"),
        ("networks", "IP prefixes with many visitor ids or automated traffic"),
        ("refresh", "materialise the trust signals of the range's closed days now"),
    ):
        cmd = s.add_parser(name, help=help_text)
        if name == "visitor":
            cmd.add_argument("vid")
        cmd.add_argument("--site", required=True)
        cmd.add_argument("--from", dest="from_", metavar="DATE", help="first day (ISO date, UTC); default 30 days before --to")
        cmd.add_argument("--to", metavar="DATE", help="last day (ISO date, UTC); default today")
        if name == "visitors":
            cmd.add_argument("--max-score", type=int, help="list visitors with score <= this (default: the exclusion threshold)")
            cmd.add_argument("--reason", help="only visitors with this reason code")
            cmd.add_argument("--limit", type=int)
            cmd.add_argument("--offset", type=int)
        if name in ("promotions", "coupons", "networks"):
            cmd.add_argument("--limit", type=int)
        if name == "coupons":
            cmd.add_argument("--all", action="store_true", help="every coupon, not only the unusual ones")
        cmd.add_argument("--json", action="store_true", help="print the API's JSON")
        add_data_args(cmd)
        cmd.set_defaults(func=run, trust_name=name)


def _params(args) -> dict:
    params = {"site": args.site, "from": args.from_, "to": args.to}
    for key in ("max_score", "reason", "limit", "offset"):
        if getattr(args, key, None) is not None:
            params[key] = getattr(args, key)
    if getattr(args, "all", False):
        params["all"] = "true"
    return params


def run(args) -> int:
    name = args.trust_name
    with connect(settings_from(args)) as api:
        if name == "visitor":
            body = api.request("GET", f"/api/trust/visitors/{quote(args.vid, safe='')}", params=_params(args))
        elif name == "refresh":
            body = api.request("POST", "/api/trust/refresh", params=_params(args))
        else:
            body = api.request("GET", f"/api/trust/{name}", params=_params(args))
    if args.json:
        print(json.dumps(body, indent=2, default=str))
    elif name == "visitor":
        print(f"visitor {body['vid']}: score {body['score']}, {'excluded' if body['excluded'] else 'trusted'}, {body['events']} events")
        print_table(["fired", "signal", "value", "weight", "evidence"],
                    [["*" if sig["fired"] else "", code, sig["value"], sig["weight"], body["evidence"].get(code)]
                     for code, sig in body["signals"].items()])
        print()
        print_rows([{"ts": e["ts"], "type": e["type"], "path": e["path"], "promo or order": e["promo_id"] or e["order_id"]}
                    for e in body["timeline"]], empty="(no events in the range)")
    elif name == "refresh":
        print(f"materialised {len(body['refreshed'])} day(s) of trust signals, "
              f"built {len(body.get('sessions', []))} day(s) of session fragments")
    else:
        print_rows(body["rows"], COLUMNS[name])
        if "total" in body:
            print(f"({body['total']} in all)")
    return 0
