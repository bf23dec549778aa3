"""tracker promo set|list|remove: the promotions registry (holdout share, coupons, schedule)."""

from __future__ import annotations

from tracker.cli import add_data_args, settings_from
from tracker.cli._api import connect
from tracker.cli._table import print_table


def register(sub) -> None:
    p = sub.add_parser("promo", help="manage promotions (holdout share, coupons, schedule)")
    s = p.add_subparsers(dest="promo_command", metavar="ACTION")
    s.required = True
    st = s.add_parser("set", help="create or update a promotion; options not given keep their value")
    st.add_argument("promo_id", metavar="ID", help="the promotion id used in data-promo-id")
    st.add_argument("--site", required=True)
    st.add_argument("--name", help="display name")
    st.add_argument("--holdout", type=float, metavar="PCT", help="percent of visitors held out (0-100; default 0)")
    st.add_argument("--coupon", action="append", metavar="CODE", help="coupon code linked to the promotion (repeatable; replaces the list)")
    st.add_argument("--no-coupons", action="store_true", help="unlink all coupons")
    st.add_argument("--start", metavar="DATE", help="start, ISO date or datetime (UTC); '' clears it")
    st.add_argument("--end", metavar="DATE", help="end, ISO date (inclusive) or datetime (UTC); '' clears it")
    add_data_args(st)
    st.set_defaults(func=run_set)
    ls = s.add_parser("list", help="list a site's promotions")
    ls.add_argument("--site", required=True)
    add_data_args(ls)
    ls.set_defaults(func=run_list)
    rm = s.add_parser("remove", help="remove a promotion from the registry (its events stay)")
    rm.add_argument("promo_id", metavar="ID")
    rm.add_argument("--site", required=True)
    add_data_args(rm)
    rm.set_defaults(func=run_remove)


def run_set(args) -> int:
    body: dict = {"site": args.site, "promo_id": args.promo_id}
    if args.name is not None:
        body["name"] = args.name
    if args.holdout is not None:
        body["holdout_pct"] = args.holdout
    if args.coupon is not None or args.no_coupons:
        body["coupons"] = [] if args.no_coupons else args.coupon
    if args.start is not None:
        body["starts_at"] = args.start
    if args.end is not None:
        body["ends_at"] = args.end
    with connect(settings_from(args), creates=True) as api:
        promo = api.request("POST", "/api/admin/promos", json=body)
    print(_line(promo))
    return 0


def run_list(args) -> int:
    with connect(settings_from(args)) as api:
        rows = api.request("GET", "/api/admin/promos", params={"site": args.site})["rows"]
    if not rows:
        print(f"no promotions on site {args.site}")
        return 0
    print_table(["promo_id", "name", "holdout_pct", "coupons", "starts_at", "ends_at"],
                [[r["promo_id"], r["name"], r["holdout_pct"], ",".join(r["coupons"]) or "-", r["starts_at"], r["ends_at"]] for r in rows])
    return 0


def run_remove(args) -> int:
    with connect(settings_from(args)) as api:
        api.request("DELETE", "/api/admin/promos", params={"site": args.site, "promo": args.promo_id})
    print(f"removed promotion {args.promo_id} from site {args.site}")
    return 0


def _line(promo: dict) -> str:
    coupons = ",".join(promo["coupons"]) or "-"
    fields = [promo["promo_id"], f"holdout {promo['holdout_pct']:g}%", f"coupons {coupons}"]
    if promo["starts_at"] or promo["ends_at"]:  # no schedule: nothing to say, not "… to …"
        fields.append(f"{promo['starts_at'] or '…'} to {promo['ends_at'] or '…'}")
    return "\t".join([*fields, *([promo["name"]] if promo["name"] else [])])
