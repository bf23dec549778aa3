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

Speed: rows go through ingest's one row builder (`encode_row`) with one `Context` per visitor
(its user agent parsed and IP described once, from small precomputed pools), and are inserted
as JSONEachRow in large chunks, so the cost per event is one small dict and one orjson call.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tracker.ingest.rows import Context, encode_row
from tracker.ingest.schema import Env, Event, Order, Promo

DAY_MS = 86_400_000
CHUNK_BYTES = 16 * 1024 * 1024
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
    """Precomputed pools (URLs, promos, contexts' agents and networks) and the row buffer."""

    def __init__(self, runtime, site: str, rng: random.Random, end_ms: int, days: int, storage_insert):
        self.site = site
        self.rng = rng
        self.end_ms = end_ms
        self.span_ms = days * DAY_MS
        self._insert = storage_insert
        self._rows: list[bytes] = []
        self._size = 0
        self.count = 0
        self.churned = 0
        self.churn_at = 0
        self._prefix = f"sd{rng.getrandbits(40):x}-"
        self.agents = {ua: runtime.agents.parse(ua) for ua in (*BROWSER_UAS, *CRAWLER_UAS, *HEADLESS_UAS)}
        self.networks = [runtime.network.describe(f"198.51.{i // 250}.{i % 250 + 1}") for i in range(1000)]
        self.churn_networks = [runtime.network.describe(f"{CHURN_PREFIX}{i}") for i in range(1, 255)]
        self.products = [f"/p/{c}-{n}" for c in CATEGORIES for n in range(1, PRODUCTS_PER_CATEGORY + 1)]
        self.categories = [f"/c/{c}" for c in CATEGORIES]
        self.url = {p: HOST + p for p in ("/", "/cart", "/checkout", "/thank-you", "/search", *self.products, *self.categories)}
        self.campaign_urls = [(f"{HOST}/?utm_source={s}&utm_medium={m}&utm_campaign={c}", f"{HOST}/c/shoes?utm_source={s}&utm_medium={m}&utm_campaign={c}") for s, m, c in CAMPAIGNS]
        self.promos = {variant: [Promo(id=pid, name=name, creative=creative, slot=slot, variant=variant) for pid, name, creative, slot in PROMOS] for variant in ("exposed", "holdout")}

    # --- output ---------------------------------------------------------------------------
    def context(self, vid: str, ua: str, network: tuple[str, str], at_ms: int, *, signed: bool = True) -> Context:
        prefix, ip_hash = network
        return Context(site=self.site, received_ms=at_ms, vid=vid if signed else "", id_source="import" if signed else "cookie",
                       minted=not signed, agent=self.agents[ua], ip_prefix=prefix, ip_hash=ip_hash, has_origin=True)

    def emit(self, ctx: Context, kind: str, url: str, at_ms: int, *, promo: Promo | None = None, order: Order | None = None,
             env: Env | None = None, vid: str = "", ref: str = "", name: str = "") -> None:
        self.count += 1
        event = Event(type=kind, id=f"{self._prefix}{self.count:x}", url=url, ref=ref, vid=vid, name=name, promo=promo, order=order, env=env)
        row = encode_row(event, ctx, ts_ms=at_ms)
        self._rows.append(row)
        self._size += len(row)
        if self._size >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._insert(b"".join(self._rows))
            self._rows, self._size = [], 0

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


def _variant_of(rng: random.Random) -> str:
    return "holdout" if rng.random() < HOLDOUT_SHARE else "exposed"


def _human(shop: _Shop, vid: str) -> None:
    rng = shop.rng
    ctx = shop.context(vid, rng.choice(BROWSER_UAS), rng.choice(shop.networks), shop.end_ms)
    env = rng.choice(ENVS)
    variants = [_variant_of(rng) for _ in PROMOS]
    buyer = rng.random()
    for _ in range(rng.choice((1, 1, 1, 1, 2, 2, 3))):
        at = shop.start_ms()
        ref = rng.choice(REFERRERS)
        roll = rng.random()
        if roll < 0.3:
            home, category = rng.choice(shop.campaign_urls)
            url = home if rng.random() < 0.5 else category
        elif roll < 0.6:
            url = shop.url["/"]
        elif roll < 0.8:
            url = shop.url[rng.choice(shop.categories)]
        else:
            url = shop.url[rng.choice(shop.products)]
        shop.emit(ctx, "pageview", url, at, env=env, ref=ref)
        promo_index = rng.randrange(len(PROMOS))
        variant = variants[promo_index]
        if rng.random() < 0.6:
            at += rng.randrange(800, 5000)
            promo = shop.promos[variant][promo_index]
            shop.emit(ctx, "promo_view", url, at, promo=promo, env=env)
            if variant == "exposed" and rng.random() < 0.12:
                at += rng.randrange(1500, 20000)
                shop.emit(ctx, "promo_click", url, at, promo=promo, env=env)
                buyer += 0.15  # promos work a little: clickers buy more often
        depth = rng.choice((0, 1, 1, 2, 2, 3, 4, 6))  # 0 => a bounce
        product = rng.choice(shop.products)
        for _ in range(depth):
            at += rng.randrange(4000, 180_000)
            page = rng.choice(shop.categories) if rng.random() < 0.35 else rng.choice(shop.products)
            product = page if page.startswith("/p/") else product
            shop.emit(ctx, "pageview", shop.url[page], at, env=env)
        if depth and rng.random() < 0.25:
            at += rng.randrange(2000, 30000)
            shop.emit(ctx, "add_to_cart", shop.url[product], at, env=env)
            at += rng.randrange(3000, 60000)
            shop.emit(ctx, "pageview", shop.url["/cart"], at, env=env)
            if buyer > 0.55:
                at += rng.randrange(5000, 90000)
                shop.emit(ctx, "pageview", shop.url["/checkout"], at, env=env)
                shop.emit(ctx, "checkout", shop.url["/checkout"], at + 200, env=env)
                if buyer > 0.7:
                    at += rng.randrange(20000, 240_000)
                    coupon = rng.choice(COUPONS) if rng.random() < 0.2 else ""
                    order = Order(id=f"o{shop.count:x}{rng.getrandbits(24):x}", revenue=round(rng.uniform(15, 250), 2), currency="USD", coupon=coupon)
                    shop.emit(ctx, "pageview", shop.url["/thank-you"], at, env=env)
                    shop.emit(ctx, "purchase", shop.url["/thank-you"], at + 150, order=order, env=env)
                    buyer = 0.0  # one order per visitor is plenty


def _bot(shop: _Shop, vid: str) -> None:
    rng = shop.rng
    headless = rng.random() < 0.4
    ua = rng.choice(HEADLESS_UAS if headless else CRAWLER_UAS)
    ctx = shop.context(vid, ua, rng.choice(shop.networks), shop.end_ms)
    env = WEBDRIVER_ENV if headless else None
    at = shop.start_ms()
    pages = ["/", *shop.categories, *shop.products]
    count, gaps = ((30, 90), (100, 400)) if headless else ((15, 60), (500, 3000))
    for _ in range(rng.randrange(*count)):
        at += rng.randrange(*gaps)  # faster than any reader; headless scrapers far over 120/min
        shop.emit(ctx, "pageview", shop.url[rng.choice(pages)], at, env=env)
        if headless and rng.random() < 0.2:
            promo = shop.promos["exposed"][rng.randrange(len(PROMOS))]
            shop.emit(ctx, "promo_view", shop.url["/"], at + 50, promo=promo, env=env)
            shop.emit(ctx, "promo_click", shop.url["/"], at + 120, promo=promo, env=env)


def _fraud(shop: _Shop, vid: str, kind: str) -> None:
    rng = shop.rng
    ctx = shop.context(vid, rng.choice(BROWSER_UAS), rng.choice(shop.networks), shop.end_ms, signed=kind != "unsigned_id")
    event_vid = vid if kind == "unsigned_id" else ""
    env = rng.choice(ENVS)
    at = shop.start_ms()
    promos = shop.promos["exposed"]
    if kind == "click_without_view":
        for _ in range(rng.randrange(5, 12)):
            at += rng.randrange(2000, 20000)
            shop.emit(ctx, "promo_click", shop.url["/"], at, promo=rng.choice(promos), env=env)
    elif kind == "fast_click":
        shop.emit(ctx, "pageview", shop.url["/"], at, env=env)
        for _ in range(rng.randrange(3, 10)):
            at += rng.randrange(1000, 5000)
            promo = rng.choice(promos)
            shop.emit(ctx, "promo_view", shop.url["/"], at, promo=promo, env=env)
            shop.emit(ctx, "promo_click", shop.url["/"], at + rng.randrange(20, 150), promo=promo, env=env)
    elif kind == "purchase_without_pageview":
        order = Order(id=f"x{shop.count:x}{rng.getrandbits(24):x}", revenue=round(rng.uniform(5, 40), 2), currency="USD", coupon=rng.choice(COUPONS))
        shop.emit(ctx, "purchase", shop.url["/thank-you"], at, order=order)
    elif kind == "unsigned_id":
        for page in ("/", rng.choice(shop.products), rng.choice(shop.products)):
            at += rng.randrange(3000, 40000)
            shop.emit(ctx, "pageview", shop.url[page], at, env=env, vid=event_vid)
        shop.emit(ctx, "promo_click", shop.url["/"], at + 500, promo=rng.choice(promos), env=env, vid=event_vid)
    elif kind == "cookie_churn_ip":
        if shop.churned % CHURN_BURST == 0:
            shop.churn_at = shop.start_ms()
        shop.churned += 1
        at = shop.churn_at + rng.randrange(0, 300_000)  # the whole burst within five minutes
        ctx = shop.context(vid, rng.choice(BROWSER_UAS), rng.choice(shop.churn_networks), shop.end_ms)
        shop.emit(ctx, "pageview", shop.url["/"], at, env=env)
        promo = rng.choice(promos)
        shop.emit(ctx, "promo_view", shop.url["/"], at + 1200, promo=promo, env=env)
        shop.emit(ctx, "promo_click", shop.url["/"], at + 2600, promo=promo, env=env)
    elif kind == "coupon_shared":
        shop.emit(ctx, "pageview", shop.url[rng.choice(shop.products)], at, env=env)
        shop.emit(ctx, "add_to_cart", shop.url[rng.choice(shop.products)], at + 9000, env=env)
        shop.emit(ctx, "pageview", shop.url["/checkout"], at + 30000, env=env)
        order = Order(id=f"c{shop.count:x}{rng.getrandbits(24):x}", revenue=round(rng.uniform(60, 400), 2), currency="USD", coupon=LEAKED_COUPON)
        shop.emit(ctx, "purchase", shop.url["/thank-you"], at + 60000, order=order, env=env)


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


def seed(runtime, site: str = "demo", visitors: int = 1000, days: int = 14, *, seed: int = 0, end_ms: int | None = None) -> SeedResult:
    """Write synthetic traffic for `visitors` visitors over the `days` days before `end_ms`
    (default: now) and return what was written with its ground truth. Same `seed`, same data
    (event ids differ per run, so seeding twice adds a second copy rather than deduplicating)."""
    if visitors < 0 or days < 1:
        raise ValueError("visitors must be >= 0 and days >= 1")
    started = time.monotonic()
    runtime.sites.ensure(site, [])
    rng = random.Random(seed)
    end = end_ms if end_ms is not None else int(time.time() * 1000)
    storage = runtime.storage
    result = SeedResult(site, seed)
    with _Inserter(lambda data: storage.insert_jsonl("events", data, what="seeding events")) as insert:
        shop = _Shop(runtime, site, rng, end, days, insert)
        _visit_all(shop, rng, visitors, result)
        shop.flush()
    result.events = shop.count
    result.seconds = time.monotonic() - started
    return result


class _Inserter:
    """Inserts chunks on a background thread, so Python builds the next chunk while ClickHouse
    parses the last one (chDB releases the GIL while it works). At most two chunks wait."""

    def __init__(self, insert: Callable[[bytes], None]):
        self._insert = insert
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="seed-insert", daemon=True)

    def _run(self) -> None:
        while (data := self._queue.get()) is not None:
            if self._error is None:
                try:
                    self._insert(data)
                except BaseException as exc:  # re-raised in the producer
                    self._error = exc

    def __call__(self, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(data)

    def __enter__(self) -> _Inserter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None and exc_info[0] is None:
            raise self._error


def _visit_all(shop: _Shop, rng: random.Random, visitors: int, result: SeedResult) -> None:
    for kind in plan_kinds(rng, visitors):
        vid = shop.vid()
        if kind == "human":
            _human(shop, vid)
            result.humans.add(vid)
        elif kind == "bot":
            _bot(shop, vid)
            result.bots.add(vid)
        else:
            _fraud(shop, vid, kind)
            result.fraud[vid] = kind


def seed_if_empty(runtime, site: str = "demo", visitors: int = 3000, days: int = 30) -> SeedResult | None:
    """`tracker serve --demo`: give the demo site a month of traffic, once."""
    if runtime.storage.scalar("SELECT count() FROM events WHERE site = {site:String}", {"site": site}, what="checking the demo site"):
        return None
    return seed(runtime, site, visitors, days)
