"""tracker token create|list|revoke."""

from __future__ import annotations

import argparse

from tracker.cli import add_data_args, settings_from
from tracker.cli._api import connect
from tracker.cli._table import print_table


def register(sub) -> None:
    p = sub.add_parser("token", help="manage API tokens")
    s = p.add_subparsers(dest="token_command", metavar="ACTION")
    s.required = True
    create = s.add_parser("create", help="create a token; it is printed alone on the last line",
                          formatter_class=argparse.RawDescriptionHelpFormatter, epilog=INGEST_EPILOG)
    create.add_argument("--role", required=True, choices=["marketer", "fraud", "admin", "ingest"])
    create.add_argument("--name", required=True)
    create.add_argument("--site", action="append", default=[], help="limit the token to this site (repeatable)")
    add_data_args(create)
    create.set_defaults(func=run_create)
    ls = s.add_parser("list", help="list tokens (never their secrets)")
    add_data_args(ls)
    ls.set_defaults(func=run_list)
    revoke = s.add_parser("revoke", help="revoke a token by id or name")
    revoke.add_argument("token")
    add_data_args(revoke)
    revoke.set_defaults(func=run_revoke)


def run_create(args) -> int:
    with connect(settings_from(args), creates=True) as api:
        made = api.request("POST", "/api/admin/tokens", json={"role": args.role, "name": args.name, "sites": args.site})
    scope = ", ".join(made["sites"]) or "all sites"
    if made["role"] == "ingest":
        print(orders_example(settings_from(args).public_url, made["sites"][0]))
    print(f"created {made['role']} token {made['token_id']} ({made['name']}, {scope}); it is shown only now:")
    print(made["token"])
    return 0


def run_list(args) -> int:
    with connect(settings_from(args)) as api:
        rows = api.request("GET", "/api/admin/tokens")["rows"]
    print_table(["token_id", "role", "name", "sites", "created_at", "last_used", "revoked_at"],
                [[r["token_id"], r["role"], r["name"], ",".join(r["sites"]) or "*", str(r["created_at"])[:19],
                  str(r.get("last_used") or "never")[:19], str(r["revoked_at"] or "")[:19]] for r in rows])
    return 0


def run_revoke(args) -> int:
    with connect(settings_from(args)) as api:
        result = api.request("DELETE", f"/api/admin/tokens/{args.token}")
    print(f"revoked {result['revoked']} token(s)")
    return 0


def orders_example(public_url: str, site: str) -> str:
    """What the shop's backend sends with an ingest token (docs/orders.md has more)."""
    base = (public_url or "https://t.shop.example").rstrip("/")
    body = ('{"site": "%s", "orders": [{"id": "1001", "revenue": "59.90", "currency": "EUR", '
            '"coupon": "SAVE10", "status": "paid", "ts": "2026-03-02T10:00:00Z"}]}' % site)
    return (f"The shop's backend confirms, corrects or refunds orders with this token (TOKEN below):\n"
            f"  curl -sS -X POST {base}/api/orders -H 'Authorization: Bearer TOKEN' \\\n"
            f"       -H 'Content-Type: application/json' -d '{body}'\n"
            f"  -> 202 {{\"accepted\": 1, \"rejected\": []}} once the orders are on disk (see docs/orders.md)")


# `token create --help`: what a shop's backend sends with a `--role ingest` token (the same
# example `run_create` prints after creating one; Python and every field in docs/orders.md).
INGEST_EPILOG = ("--role ingest: a token for the shop's backend, which confirms orders (POST /api/orders).\n"
                 + orders_example("", "shop") + "\n"
                 "The same request from Python (urllib, retry-safe) and every field: docs/orders.md.")
