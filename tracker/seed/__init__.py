"""Synthetic shop traffic for demos, benchmarks and the trust team's precision/recall checks.

`seed(runtime, site, visitors, days, seed=...)` writes a reproducible mix into `events`:
- humans (~92%): 1-3 sessions over the last `days` days, entering on the home page, a
  category or a product (some from utm campaigns, incl. utm_medium=email), browsing
  categories and products, seeing promos (each visitor is exposed or, for ~10%, held out per
  promo), clicking some, adding to cart, checking out and buying (revenue, sometimes a coupon);
- bots (~5%): crawlers with bot user agents, and headless browsers with `env.webdriver` true
  crawling at high velocity;
- fraud (~3%): promo clicks without a view, sub-second promo clicks, purchases without a
  pageview, unsigned client ids, cookie churn from one IP prefix, and a leaked coupon used by
  a crowd on two /24s within 40 minutes;
- confounders (~4%, at most 60 of each kind; from 500 visitors): real shoppers who look odd and
  must stay trusted — an office and a CGNAT /24, a popular unregistered newsletter code,
  ad-blockers, quick clickers, several tabs, returning visitors, backend-sent orders
  (`tracker.seed.confounders`, written through encode_row by `population`; they count as
  humans, and `SeedResult.confounders` names each one's kind).
The ground truth (which visitor ids are humans, bots, or fraud and why) is returned as a
`SeedResult`, never encoded in the ids themselves, so trust code cannot cheat by reading them.
The same `seed` gives the same traffic, event ids included.

How rows are written, and why. Seeding must reach 200k events/s on a 2-core machine (issue
#4). One JSONEachRow row per event through ingest's `encode_row` stops near 120k/s: Python
spends ~4 us per row and chDB parses ~690 bytes per row, although nearly all of those bytes
repeat. A seeded event is fully told by a few small facts:
- its visitor: id, user agent, network, signed cookie or not (`writers._Writer.visitor`; what each kind of visitor does is `visitors`);
- its type, time, page, referrer, promo, env and order (`writers._Writer.emit`); all of them but the
  time and the order are one of a few hundred *pool* entries (`shop.Shop`: every page URL,
  referrer, promo, env, user agent and network the shop has), named by index;
- its id: the run's id prefix and a running number.
`_ColumnWriter` keeps one row per visitor with arrays of those indices, column by column in
`array`s, and sends a chunk of visitors in ClickHouse's Native format (the arrays' bytes, no
per-value encoding). One `INSERT INTO events SELECT ... ARRAY JOIN <the event arrays>` per
chunk expands them into events rows, each pool entry's columns looked up in arrays bound as
query parameters. Python appends a few small ints per event; ClickHouse reads ~27 bytes per
event instead of parsing 690. A background thread inserts one chunk while Python builds the
next (chDB releases the GIL while it works).

Still exactly ingest's rows. Per event only its own facts travel: its time (ms, made a
DateTime64 in SQL), its number (the id, in SQL as in `shop.Shop.event`) and its order's columns
(from ingest's `event_fields`). Every other value comes from encode_row: each pool entry is a
template event (or context) that differs from one base template in that entry only, and its
columns are taken from the row `encode_row` builds for it (`writers._derive_pools`); that fails if an
entry changes anything outside its columns or if encode_row writes a column the seed does not
fill, so a change to encode_row cannot silently diverge from the seed. `writers._RowWriter` (used by
`write_rows`) is the previous writer, kept as the reference: every row through encode_row, as
JSONEachRow. tests/seed/test_seed.py stores the same traffic both ways and compares every
column.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tracker.seed.confounders import CONFOUNDERS
from tracker.seed.population import DAY_MS, Population
from tracker.seed.shop import FRAUD_KINDS, HOLDOUT_SHARE, LEAKED_COUPON, PROMO_COUPONS, PROMOS, Shop
from tracker.seed.visitors import visit_all
from tracker.seed.writers import _Chunk, _ColumnWriter, _Inserter, _RowWriter, _Writer

__all__ = ["FRAUD_KINDS", "LEAKED_COUPON", "PROMO_COUPONS", "SeedResult", "seed", "seed_if_empty", "write_rows"]


@dataclass
class SeedResult:
    site: str
    seed: int = 0
    events: int = 0
    seconds: float = 0.0
    humans: set[str] = field(default_factory=set)
    bots: set[str] = field(default_factory=set)
    fraud: dict[str, str] = field(default_factory=dict)  # vid -> reason code
    confounders: dict[str, str] = field(default_factory=dict)  # vid -> confounder kind (also in humans)

    @property
    def visitors(self) -> int:
        return len(self.humans) + len(self.bots) + len(self.fraud)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def summary(self) -> dict:
        return {"site": self.site, "seed": self.seed, "events": self.events, "visitors": self.visitors,
                "humans": len(self.humans), "bots": len(self.bots),
                "fraud": len(self.fraud), "confounders": len(self.confounders), "seconds": round(self.seconds, 3), "events_per_second": round(self.events_per_second)}

    def truth(self) -> dict:
        """Ground truth for precision/recall: {"humans": [...], "bots": [...], "fraud": {vid: reason}}."""
        return {"site": self.site, "humans": sorted(self.humans), "bots": sorted(self.bots), "fraud": dict(sorted(self.fraud.items())),
                "confounders": dict(sorted(self.confounders.items()))}


# --- entry points -----------------------------------------------------------------------------


def seed(runtime, site: str = "demo", visitors: int = 1000, days: int = 14, *, seed: int = 0, end_ms: int | None = None) -> SeedResult:
    """Write synthetic traffic for `visitors` visitors over the `days` days before `end_ms`
    (default: now) and return what was written with its ground truth. Same `seed`, same data,
    event ids included: seeding a site twice with one seed and `end_ms` stores each event once
    (the copies collapse like any retried event)."""
    storage = runtime.storage

    def insert(chunk: _Chunk) -> None:
        storage.insert_select(chunk.sql, chunk.data, structure=_ColumnWriter.STRUCTURE, params=chunk.params, what="seeding events")

    return _run(runtime, site, visitors, days, seed, end_ms, _ColumnWriter, insert,
                lambda data: storage.insert_jsonl("events", data, what="seeding events"))


def write_rows(runtime, site: str, visitors: int, days: int, *, seed: int = 0, end_ms: int | None = None,
               insert: Callable[[bytes], None] | None = None) -> SeedResult:
    """The same traffic as `seed`, every row built by ingest's `encode_row` and handed to
    `insert` as JSONEachRow chunks (default: into `events`). The reference `seed`'s fast path is
    tested against, and what the benchmark compares it with; about half as fast."""
    storage = runtime.storage
    insert = insert or (lambda data: storage.insert_jsonl("events", data, what="seeding events"))
    return _run(runtime, site, visitors, days, seed, end_ms, _RowWriter, insert, insert)


CONFOUNDER_SHARE = 0.04
CONFOUNDER_MAX = 60  # of each kind: "dozens of shoppers behind one /24", not thousands


def _run(runtime, site: str, visitors: int, days: int, seed_value: int, end_ms: int | None, writer: type[_Writer],
         insert: Callable, insert_rows: Callable[[bytes], None]) -> SeedResult:
    if visitors < 0 or days < 1:
        raise ValueError("visitors must be >= 0 and days >= 1")
    started = time.monotonic()
    runtime.sites.ensure(site, [])
    register_promotions(runtime, site)
    rng = random.Random(seed_value)
    end = end_ms if end_ms is not None else int(time.time() * 1000)
    result = SeedResult(site, seed_value)
    each = min(CONFOUNDER_MAX, round(visitors * CONFOUNDER_SHARE) // len(CONFOUNDERS)) if visitors >= 500 else 0
    with _Inserter(insert) as background_insert:
        shop = Shop(runtime, site, rng, end, days)
        out = writer(shop, background_insert)
        visit_all(shop, out, visitors - each * len(CONFOUNDERS), result)
        out.flush()
    result.events = out.count + _confounders(runtime, site, seed_value, end, days, each, result, insert_rows)
    result.seconds = time.monotonic() - started
    return result


def _confounders(runtime, site: str, seed_value: int, end_ms: int, days: int, each: int, result: SeedResult,
                 insert_rows: Callable[[bytes], None]) -> int:
    """Write `each` visitors of every confounder kind; returns their event count."""
    if not each:
        return 0
    pop = Population(runtime, site, random.Random(f"confounders-{seed_value}"), end_ms - days * DAY_MS, days)
    for make in CONFOUNDERS.values():
        make(pop, each)
    rows = pop.rows
    for vid, kind in pop.truth.items():
        result.humans.add(vid)
        result.confounders[vid] = kind
    if rows:
        insert_rows(b"".join(rows))
    return len(rows)


def register_promotions(runtime, site: str) -> None:
    """Register the seeded promotions (name, holdout share, linked coupons) unless the site
    already has them: the promotion reports name them and `coupon_shared` exempts their codes."""
    promos = runtime.promos
    for promo_id, name, _, _ in PROMOS:
        if promos.get(site, promo_id) is None:
            promos.set(site, promo_id, name=name, holdout_pct=HOLDOUT_SHARE * 100, coupons=PROMO_COUPONS[promo_id])


def seed_if_empty(runtime, site: str = "demo", visitors: int = 3000, days: int = 30) -> SeedResult | None:
    """`tracker serve --demo`: give the demo site a month of traffic, once."""
    if runtime.storage.scalar("SELECT count() FROM events WHERE site = {site:String}", {"site": site}, what="checking the demo site"):
        return None
    return seed(runtime, site, visitors, days)
