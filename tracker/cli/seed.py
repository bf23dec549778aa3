"""tracker seed --site demo --visitors N: synthetic shop traffic (through the admin API)."""

from __future__ import annotations

from tracker.cli import add_data_args, settings_from
from tracker.cli._api import connect


def register(sub) -> None:
    p = sub.add_parser("seed", help="write realistic synthetic shop traffic (browsing, promos, purchases, bots, fraud)")
    p.add_argument("--site", default="demo", help="site id (created if absent; default demo)")
    p.add_argument("--visitors", type=int, default=1000, help="number of visitors (about 10 events each; default 1000)")
    p.add_argument("--days", type=int, default=14, help="spread the traffic over the last N days (default 14)")
    p.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same traffic (default 0)")
    add_data_args(p)
    p.set_defaults(func=run)


def run(args) -> int:
    params = {"site": args.site, "visitors": args.visitors, "days": args.days, "seed": args.seed}
    with connect(settings_from(args), creates=True) as api:
        result = api.request("POST", "/api/admin/seed", params=params, timeout=3600)
    print(
        f"seeded {result['events']:,} events for {result['visitors']:,} visitors into {result['site']} "
        f"({result['humans']:,} humans of which {result.get('confounders', 0):,} confounders, {result['bots']:,} bots, "
        f"{result['fraud']:,} fraud) "
        f"in {result['seconds']:.1f}s ({result['events_per_second']:,} events/s)"
    )
    print(f"ground truth: {result['truth_file']}")
    return 0
