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
  many visitors.
The ground truth (which visitor ids are humans, bots, or fraud and why) is returned as a
`SeedResult`, never encoded in the ids themselves, so trust code cannot cheat by reading them.
The same `seed` gives the same traffic, event ids included.

How rows are written, and why. Seeding must reach 200k events/s on a 2-core machine (issue
#4). One JSONEachRow row per event through ingest's `encode_row` stops near 120k/s: Python
spends ~4 us per row and chDB parses ~690 bytes per row, although nearly all of those bytes
repeat. A seeded event is fully told by a few small facts:
- its visitor: id, user agent, network, signed cookie or not (`_Writer.visitor`);
- its type, time, page, referrer, promo, env and order (`_Writer.emit`); all of them but the
  time and the order are one of a few hundred *pool* entries (`_Shop`: every page URL,
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
DateTime64 in SQL), its number (the id, in SQL as in `_Shop.event`) and its order's columns
(from ingest's `event_fields`). Every other value comes from encode_row: each pool entry is a
template event (or context) that differs from one base template in that entry only, and its
columns are taken from the row `encode_row` builds for it (`writers._derive_pools`); that fails if an
entry changes anything outside its columns or if encode_row writes a column the seed does not
fill, so a change to encode_row cannot silently diverge from the seed. `writers._RowWriter` (used by
`write_rows`) is the previous writer, kept as the reference: every row through encode_row, as
JSONEachRow. tests/reports/test_seed.py stores the same traffic both ways and compares every
column.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tracker.ingest.rows import Context
from tracker.ingest.schema import Env, Event, Order, Promo
from tracker.seed.writers import _Chunk, _ColumnWriter, _Inserter, _RowWriter, _Writer
from tracker.vocabulary import EVENT_TYPES

DAY_MS = 86_400_000
HOST = "https://shop.example"
CATEGORIES = ("shoes", "bags", "jackets", "hats", "socks", "shirts")
PRODUCTS_PER_CATEGORY = 25
PROMOS = (
    ("SUMMER", "Summer sale", "hero-blue", "home_hero"),
    ("FREESHIP", "Free shipping", "strip", "top_banner"),
    ("NEWIN", "New arrivals", "tile", "category_tile"),
    ("BUNDLE", "Bundle deal", "sidebar", "product_side"),
)
HOLDOUT_SHARE = 0.10
COUPONS = ("SAVE10", "WELCOME5", "SUMMER20")
# The shop's own codes are linked to its promotions in the registry (what `tracker promo set
# --coupon` does), so the trust wing knows they are meant to be shared; the leaked code is not.
PROMO_COUPONS = {"SUMMER": ("SUMMER20",), "FREESHIP": ("SAVE10",), "NEWIN": ("WELCOME5",), "BUNDLE": ()}
LEAKED_COUPON = "VIP50-LEAK"
CAMPAIGNS = (
    ("google", "cpc", "brand"),
    ("newsletter", "email", "spring_drop"),
    ("newsletter", "email", "win_back"),
    ("facebook", "social", "retargeting"),
    ("instagram", "social", "influencer"),
)
REFERRERS = ("https://www.google.com/", "https://duckduckgo.com/", "https://news.example/best-shoes", "")
BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
)
CRAWLER_UAS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
)
HEADLESS_UAS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",)
NETWORKS = 1000  # visitors' addresses, each in its own /24 (198.18-21.x.y): a /24 shared by many
# visitors within minutes is cookie churn to the trust wing, and real shoppers come from many
# networks. (Before, the 1000 addresses sat in four /24s: at a million visitors every human
# looked like cookie churn.)
CHURN_PREFIX = "203.0.113."  # cookie churn: many fresh ids from one /24
ENVS = tuple(Env(webdriver=False, screen=screen, lang=lang, tz=tz) for screen, lang, tz in (
    ("1920x1080", "en-US", "Europe/London"), ("1440x900", "en-GB", "Europe/London"), ("390x844", "fr-FR", "Europe/Paris"), ("1366x768", "de-DE", "Europe/Berlin")))
WEBDRIVER_ENV = Env(webdriver=True, screen="800x600", lang="en-US", tz="UTC")

# Visitor kinds and their shares; the fraud reasons are the trust wing's reason codes.
FRAUD_KINDS = ("click_without_view", "fast_click", "purchase_without_pageview", "unsigned_id", "cookie_churn_ip", "coupon_shared")
BOT_SHARE = 0.05
FRAUD_SHARE = 0.03
CHURN_BURST = 25  # fresh ids from one prefix within a few minutes (the trust default flags 20 in 10 min)
COUPON_CROWD = 12  # visitors sharing the leaked coupon (the trust default flags 10)


@dataclass
class SeedResult:
    site: str
    seed: int = 0
    events: int = 0
    seconds: float = 0.0
    humans: set[str] = field(default_factory=set)
    bots: set[str] = field(default_factory=set)
    fraud: dict[str, str] = field(default_factory=dict)  # vid -> reason code

    @property
    def visitors(self) -> int:
        return len(self.humans) + len(self.bots) + len(self.fraud)

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def summary(self) -> dict:
        return {"site": self.site, "seed": self.seed, "events": self.events, "visitors": self.visitors, "humans": len(self.humans), "bots": len(self.bots),
                "fraud": len(self.fraud), "seconds": round(self.seconds, 3), "events_per_second": round(self.events_per_second)}

    def truth(self) -> dict:
        """Ground truth for precision/recall: {"humans": [...], "bots": [...], "fraud": {vid: reason}}."""
        return {"site": self.site, "humans": sorted(self.humans), "bots": sorted(self.bots), "fraud": dict(sorted(self.fraud.items()))}


class _Shop:
    """The shop's pools, each a tuple of every distinct value the traffic uses, and the random
    helpers the visitor kinds share. Events and visitors name pool entries by index; `context`
    and `event` turn indices back into what ingest sees. Index 0 of the referrer, promo and env
    pools is "none"."""

    def __init__(self, runtime, site: str, rng: random.Random, end_ms: int, days: int):
        self.site = site
        self.rng = rng
        self.end_ms = end_ms
        self.span_ms = days * DAY_MS
        self.prefix = f"sd{rng.getrandbits(40):x}-"  # event ids: prefix + running number in hex
        self.churned = 0
        self.churn_at = 0
        self.types = tuple(sorted(EVENT_TYPES))
        # Pages: paths (model code speaks paths) -> page index; campaign landing pages by campaign.
        self.products = [f"/p/{c}-{n}" for c in CATEGORIES for n in range(1, PRODUCTS_PER_CATEGORY + 1)]
        self.categories = [f"/c/{c}" for c in CATEGORIES]
        paths = ("/", "/cart", "/checkout", "/thank-you", "/search", *self.products, *self.categories)
        tags = [f"utm_source={s}&utm_medium={m}&utm_campaign={c}" for s, m, c in CAMPAIGNS]
        campaigns = [(f"{HOST}/?{t}", f"{HOST}/c/shoes?{t}") for t in tags]
        self.pages = tuple(HOST + p for p in paths) + tuple(url for pair in campaigns for url in pair)
        self.page = {p: i for i, p in enumerate(paths)}
        self.campaign_pages = [(len(paths) + 2 * i, len(paths) + 2 * i + 1) for i in range(len(campaigns))]
        self.referrers = ("", *REFERRERS)
        self.any_referrer = range(1, len(self.referrers))  # rng.choice over a range draws exactly like over a tuple of its length
        variants = ("exposed", "holdout")
        self.promos = (None, *(Promo(id=pid, name=name, creative=creative, slot=slot, variant=v)
                               for v in variants for pid, name, creative, slot in PROMOS))
        self.promo = {v: [1 + k * len(PROMOS) + i for i in range(len(PROMOS))] for k, v in enumerate(variants)}  # variant -> promo indices
        self.envs = (None, *ENVS, WEBDRIVER_ENV)
        self.browser_env = range(1, 1 + len(ENVS))
        self.webdriver_env = len(ENVS) + 1
        uas = (*BROWSER_UAS, *CRAWLER_UAS, *HEADLESS_UAS)
        self.agents = tuple(runtime.agents.parse(ua) for ua in uas)
        self.browser_agent = range(len(BROWSER_UAS))
        self.crawler_agent = range(len(BROWSER_UAS), len(BROWSER_UAS) + len(CRAWLER_UAS))
        self.headless_agent = range(len(BROWSER_UAS) + len(CRAWLER_UAS), len(uas))
        describe = runtime.network.describe
        self.networks = tuple(describe(f"198.{18 + i // 256}.{i % 256}.{1 + i * 37 % 254}") for i in range(NETWORKS)) + tuple(
            describe(f"{CHURN_PREFIX}{i}") for i in range(1, 255))
        self.any_network = range(NETWORKS)
        self.churn_network = range(NETWORKS, len(self.networks))

    # --- what ingest sees ------------------------------------------------------------------
    def context(self, vid: str, agent: int, network: int, signed: bool) -> Context:
        """A visitor's requests: a signed (imported) id, or none (an unsigned visitor sends its
        own id with each event, see `event`)."""
        prefix, ip_hash = self.networks[network]
        return Context(site=self.site, received_ms=self.end_ms, vid=vid if signed else "", id_source="import" if signed else "cookie",
                       minted=not signed, agent=self.agents[agent], ip_prefix=prefix, ip_hash=ip_hash, has_origin=True)

    def event(self, kind: str, number: int, page: int, *, vid: str = "", ref: int = 0, promo: int = 0, env: int = 0,
              order: Order | None = None) -> Event:
        """The `number`th event, as a client would send it."""
        return Event(type=kind, id=f"{self.prefix}{number:x}", url=self.pages[page], ref=self.referrers[ref], vid=vid,
                     promo=self.promos[promo], order=order, env=self.envs[env])

    # --- helpers ---------------------------------------------------------------------------
    def start_ms(self) -> int:
        """A session start in the seeded span, busier in the day than at night."""
        rng = self.rng
        day = rng.randrange(max(1, self.span_ms // DAY_MS))
        hour = rng.choice((8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 20, 21, 21, 22, 23, 1, 6))
        at = self.end_ms - (day + 1) * DAY_MS + hour * 3_600_000 + rng.randrange(3_600_000)
        return min(at, self.end_ms - 3_600_000)

    def vid(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"


# --- the traffic model ------------------------------------------------------------------------
# Each visitor kind draws from `shop.rng` and writes through `out` (a `_Writer`): `out.visitor`
# once (cookie churn replaces it before any event), then `out.emit` per event, in time order.


def _variant_of(rng: random.Random) -> str:
    return "holdout" if rng.random() < HOLDOUT_SHARE else "exposed"


def _human(shop: _Shop, out: _Writer, vid: str) -> None:
    rng, page, emit = shop.rng, shop.page, out.emit
    out.visitor(vid, rng.choice(shop.browser_agent), rng.choice(shop.any_network))
    env = rng.choice(shop.browser_env)
    variants = [_variant_of(rng) for _ in PROMOS]
    buyer = rng.random()
    for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3))):
        at = shop.start_ms()
        ref = rng.choice(shop.any_referrer)
        roll = rng.random()
        if roll < 0.3:
            home, category = rng.choice(shop.campaign_pages)
            landing = home if rng.random() < 0.5 else category
        elif roll < 0.6:
            landing = page["/"]
        elif roll < 0.8:
            landing = page[rng.choice(shop.categories)]
        else:
            landing = page[rng.choice(shop.products)]
        emit("pageview", landing, at, env=env, ref=ref)
        promo_index = rng.randrange(len(PROMOS))
        variant = variants[promo_index]
        if rng.random() < 0.6:
            at += rng.randrange(800, 5000)
            promo = shop.promo[variant][promo_index]
            emit("promo_view", landing, at, promo=promo, env=env)
            if variant == "exposed" and rng.random() < 0.12:
                at += rng.randrange(1500, 20000)
                emit("promo_click", landing, at, promo=promo, env=env)
                buyer += 0.15  # promos work a little: clickers buy more often
        depth = rng.choice((0, 1, 1, 2, 2, 3, 4, 6))  # 0 => a bounce
        product = rng.choice(shop.products)
        for _ in range(depth):
            at += rng.randrange(4000, 180_000)
            path = rng.choice(shop.categories) if rng.random() < 0.35 else rng.choice(shop.products)
            product = path if path.startswith("/p/") else product
            emit("pageview", page[path], at, env=env)
        if depth and rng.random() < 0.25:
            at += rng.randrange(2000, 30000)
            emit("add_to_cart", page[product], at, env=env)
            at += rng.randrange(3000, 60000)
            emit("pageview", page["/cart"], at, env=env)
            if buyer > 0.55:
                at += rng.randrange(5000, 90000)
                emit("pageview", page["/checkout"], at, env=env)
                emit("checkout", page["/checkout"], at + 200, env=env)
                if buyer > 0.7:
                    at += rng.randrange(20000, 240_000)
                    coupon = rng.choice(COUPONS) if rng.random() < 0.2 else ""
                    order = Order(id=f"o{out.count:x}{rng.getrandbits(24):x}", revenue=round(rng.uniform(15, 250), 2), currency="USD", coupon=coupon)
                    emit("pageview", page["/thank-you"], at, env=env)
                    emit("purchase", page["/thank-you"], at + 150, order=order, env=env)
                    buyer = 0.0  # one order per visitor is plenty


def _bot(shop: _Shop, out: _Writer, vid: str) -> None:
    rng, emit = shop.rng, out.emit
    headless = rng.random() < 0.4
    out.visitor(vid, rng.choice(shop.headless_agent if headless else shop.crawler_agent), rng.choice(shop.any_network))
    env = shop.webdriver_env if headless else 0
    at = shop.start_ms()
    pages = [shop.page[p] for p in ("/", *shop.categories, *shop.products)]
    home = shop.page["/"]
    count, gaps = ((30, 90), (100, 400)) if headless else ((15, 60), (500, 3000))
    for _ in range(rng.randrange(*count)):
        at += rng.randrange(*gaps)  # faster than any reader; headless scrapers far over 120/min
        emit("pageview", rng.choice(pages), at, env=env)
        if headless and rng.random() < 0.2:
            promo = shop.promo["exposed"][rng.randrange(len(PROMOS))]
            emit("promo_view", home, at + 50, promo=promo, env=env)
            emit("promo_click", home, at + 120, promo=promo, env=env)


def _fraud(shop: _Shop, out: _Writer, vid: str, kind: str) -> None:
    rng, page, emit = shop.rng, shop.page, out.emit
    out.visitor(vid, rng.choice(shop.browser_agent), rng.choice(shop.any_network), signed=kind != "unsigned_id")
    env = rng.choice(shop.browser_env)
    at = shop.start_ms()
    promos = shop.promo["exposed"]
    home = page["/"]
    if kind == "click_without_view":
        for _ in range(rng.randrange(5, 12)):
            at += rng.randrange(2000, 20000)
            emit("promo_click", home, at, promo=rng.choice(promos), env=env)
    elif kind == "fast_click":
        emit("pageview", home, at, env=env)
        for _ in range(rng.randrange(3, 10)):
            at += rng.randrange(1000, 5000)
            promo = rng.choice(promos)
            emit("promo_view", home, at, promo=promo, env=env)
            emit("promo_click", home, at + rng.randrange(20, 150), promo=promo, env=env)
    elif kind == "purchase_without_pageview":
        order = Order(id=f"x{out.count:x}{rng.getrandbits(24):x}", revenue=round(rng.uniform(5, 40), 2), currency="USD", coupon=rng.choice(COUPONS))
        emit("purchase", page["/thank-you"], at, order=order)
    elif kind == "unsigned_id":  # the visitor's events carry its id themselves (see _Shop.context)
        for path in ("/", rng.choice(shop.products), rng.choice(shop.products)):
            at += rng.randrange(3000, 40000)
            emit("pageview", page[path], at, env=env)
        emit("promo_click", home, at + 500, promo=rng.choice(promos), env=env)
    elif kind == "cookie_churn_ip":
        if shop.churned % CHURN_BURST == 0:
            shop.churn_at = shop.start_ms()
        shop.churned += 1
        at = shop.churn_at + rng.randrange(0, 300_000)  # the whole burst within five minutes
        out.visitor(vid, rng.choice(shop.browser_agent), rng.choice(shop.churn_network))
        emit("pageview", home, at, env=env)
        promo = rng.choice(promos)
        emit("promo_view", home, at + 1200, promo=promo, env=env)
        emit("promo_click", home, at + 2600, promo=promo, env=env)
    elif kind == "coupon_shared":
        emit("pageview", page[rng.choice(shop.products)], at, env=env)
        emit("add_to_cart", page[rng.choice(shop.products)], at + 9000, env=env)
        emit("pageview", page["/checkout"], at + 30000, env=env)
        order = Order(id=f"c{out.count:x}{rng.getrandbits(24):x}", revenue=round(rng.uniform(60, 400), 2), currency="USD", coupon=LEAKED_COUPON)
        emit("purchase", page["/thank-you"], at + 60000, order=order, env=env)


def plan_kinds(rng: random.Random, visitors: int) -> list[str]:
    """Every visitor's kind ('human', 'bot' or a fraud reason), shuffled. Counts are planned,
    not drawn, so each pattern is present at a size the trust signals can see: cookie churn
    comes in bursts of CHURN_BURST fresh ids from one prefix (kept together, see `_fraud`), and
    the leaked coupon is shared by at least COUPON_CROWD visitors."""
    kinds = ["bot"] * round(visitors * BOT_SHARE)
    each = round(visitors * FRAUD_SHARE / len(FRAUD_KINDS))
    for kind in FRAUD_KINDS:
        if kind == "cookie_churn_ip":
            count = max(CHURN_BURST, each - each % CHURN_BURST) if visitors >= 20 * CHURN_BURST else 0
        elif kind == "coupon_shared":
            count = max(COUPON_CROWD, each) if visitors >= 20 * COUPON_CROWD else 0
        else:
            count = max(1, each) if visitors >= 100 else 0
        kinds += [kind] * count
    kinds = kinds[:visitors]
    kinds += ["human"] * (visitors - len(kinds))
    rng.shuffle(kinds)
    return kinds


def _visit_all(shop: _Shop, out: _Writer, visitors: int, result: SeedResult) -> None:
    for kind in plan_kinds(shop.rng, visitors):
        vid = shop.vid()
        if kind == "human":
            _human(shop, out, vid)
            result.humans.add(vid)
        elif kind == "bot":
            _bot(shop, out, vid)
            result.bots.add(vid)
        else:
            _fraud(shop, out, vid, kind)
            result.fraud[vid] = kind


# --- entry points -----------------------------------------------------------------------------


def seed(runtime, site: str = "demo", visitors: int = 1000, days: int = 14, *, seed: int = 0, end_ms: int | None = None) -> SeedResult:
    """Write synthetic traffic for `visitors` visitors over the `days` days before `end_ms`
    (default: now) and return what was written with its ground truth. Same `seed`, same data,
    event ids included: seeding a site twice with one seed and `end_ms` stores each event once
    (the copies collapse like any retried event)."""
    storage = runtime.storage

    def insert(chunk: _Chunk) -> None:
        storage.insert_select(chunk.sql, chunk.data, structure=_ColumnWriter.STRUCTURE, params=chunk.params, what="seeding events")

    return _run(runtime, site, visitors, days, seed, end_ms, _ColumnWriter, insert)


def write_rows(runtime, site: str, visitors: int, days: int, *, seed: int = 0, end_ms: int | None = None,
               insert: Callable[[bytes], None] | None = None) -> SeedResult:
    """The same traffic as `seed`, every row built by ingest's `encode_row` and handed to
    `insert` as JSONEachRow chunks (default: into `events`). The reference `seed`'s fast path is
    tested against, and what the benchmark compares it with; about half as fast."""
    storage = runtime.storage
    return _run(runtime, site, visitors, days, seed, end_ms, _RowWriter,
                insert or (lambda data: storage.insert_jsonl("events", data, what="seeding events")))


def _run(runtime, site: str, visitors: int, days: int, seed_value: int, end_ms: int | None, writer: type[_Writer],
         insert: Callable) -> SeedResult:
    if visitors < 0 or days < 1:
        raise ValueError("visitors must be >= 0 and days >= 1")
    started = time.monotonic()
    runtime.sites.ensure(site, [])
    register_promotions(runtime, site)
    rng = random.Random(seed_value)
    end = end_ms if end_ms is not None else int(time.time() * 1000)
    result = SeedResult(site, seed_value)
    with _Inserter(insert) as background_insert:
        shop = _Shop(runtime, site, rng, end, days)
        out = writer(shop, background_insert)
        _visit_all(shop, out, visitors, result)
        out.flush()
    result.events = out.count
    result.seconds = time.monotonic() - started
    return result


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
