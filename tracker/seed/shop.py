"""The seeded shop: its catalogue, campaigns, agents and networks, and `Shop`, the pools of
every distinct value the traffic uses (events name pool entries by index).

Read with `tracker.seed`'s docstring: how rows are written, and why.
"""

from __future__ import annotations

import random

from tracker.ingest.rows import Context
from tracker.ingest.schema import Env, Event, Order, Promo
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
LEAK_PREFIXES = ("198.51.100.", "192.0.2.")  # a leaked code's redeemers: a deal forum's crowd on two /24s
ENVS = tuple(Env(webdriver=False, screen=screen, lang=lang, tz=tz) for screen, lang, tz in (
    ("1920x1080", "en-US", "Europe/London"), ("1440x900", "en-GB", "Europe/London"), ("390x844", "fr-FR", "Europe/Paris"),
    ("1366x768", "de-DE", "Europe/Berlin")))
WEBDRIVER_ENV = Env(webdriver=True, screen="800x600", lang="en-US", tz="UTC")

# Visitor kinds and their shares; the fraud reasons are the trust wing's reason codes.
FRAUD_KINDS = ("click_without_view", "fast_click", "purchase_without_pageview", "unsigned_id", "cookie_churn_ip", "coupon_shared")
BOT_SHARE = 0.05
FRAUD_SHARE = 0.03
CHURN_BURST = 25  # fresh ids from one prefix within a few minutes (the trust default flags 20 in 10 min)
COUPON_CROWD = 12  # visitors sharing the leaked coupon (the trust default flags 10)


class Shop:
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
        self.leaked = 0
        self.leak_at = 0
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
            describe(f"{CHURN_PREFIX}{i}") for i in range(1, 255)) + tuple(
            describe(f"{prefix}{i}") for prefix in LEAK_PREFIXES for i in range(1, 255))
        self.any_network = range(NETWORKS)
        self.churn_network = range(NETWORKS, NETWORKS + 254)
        self.leak_network = range(NETWORKS + 254, len(self.networks))

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
