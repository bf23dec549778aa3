"""A labelled population for judging the trust rules from outside (issue #14).

`adversaries` (fraud and bots the rules must exclude) and `confounders` (real shoppers who look
odd and must stay trusted) write visitors through one `Population`: every event built as a
client would send it and stored through ingest's own `encode_row` (the rows ingest writes), each
visitor labelled with its family in `truth`, each purchase's revenue in `revenue`. Nothing of
the label reaches the stored rows (ids are random), so the rules cannot read it.

Why not the seed's pooled writer: the evaluation sweeps user agents from public corpora,
thousands of IP prefixes and client clocks, which the seed's fixed pools do not hold; this
population is small (thousands of visitors), so one `encode_row` per event is fast enough.

`shopper` is the one model of an ordinary human visit, shared by the confounders and the
background humans: it lands, browses, may see and click promotions, and may buy.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from tracker.ingest.rows import Context, encode_row
from tracker.ingest.schema import Env, Event, Order, Promo

HOST = "https://shop.example"
MINUTE_MS, HOUR_MS, DAY_MS = 60_000, 3_600_000, 86_400_000
BROWSER_UAS: tuple[tuple[str, float], ...] = (  # (agent, traffic share): the default browser mix
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", 0.4),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 "
     "Safari/604.1", 0.3),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", 0.1),
    ("Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36", 0.1),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15", 0.1),
)
ENV = Env(webdriver=False, screen="1440x900", lang="en-GB", tz="Europe/London")
PROMOS = ("SUMMER", "FREESHIP", "NEWIN", "BUNDLE")
PRODUCTS = tuple(f"/p/item-{i}" for i in range(60))
CATEGORIES = ("/c/shoes", "/c/bags", "/c/jackets", "/c/hats")


@dataclass
class Visitor:
    vid: str
    ctx: Context
    signed: bool
    env: Env | None


@dataclass
class Population:
    """Where the generators write: rows for ClickHouse, the label and revenue of every visitor."""

    runtime: object
    site: str
    rng: random.Random
    start_ms: int  # the population's span: [start_ms, start_ms + days)
    days: int
    browser_agents: Sequence[tuple[str, float]] = BROWSER_UAS
    rows: list[bytes] = field(default_factory=list)
    truth: dict[str, str] = field(default_factory=dict)  # vid -> family (adversary) or confounder name
    revenue: dict[str, float] = field(default_factory=dict)  # vid -> revenue of its purchases
    _count: int = 0

    # --- visitors and events ---------------------------------------------------------------
    def new_vid(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def visitor(self, label: str, *, ua: str | None = None, ip: str | None = None, signed: bool = True, env: Env | None = ENV,
                vid: str | None = None) -> Visitor:
        """A visitor labelled `label`: its agent (default one of the browser mix), address
        (default its own /24) and whether its id is a signed cookie."""
        vid = vid or self.new_vid()
        ua = ua if ua is not None else self.browser()
        ip = ip or self.any_ip()
        prefix, ip_hash = self.runtime.network.describe(ip)
        ctx = Context(site=self.site, received_ms=self.start_ms, vid=vid if signed else "", id_source="import" if signed else "cookie",
                      minted=not signed, agent=self.runtime.agents.parse(ua), ip_prefix=prefix, ip_hash=ip_hash, has_origin=True)
        self.truth.setdefault(vid, label)
        return Visitor(vid, ctx, signed, env)

    def emit(self, v: Visitor, kind: str, at_ms: int, *, path: str = "/", promo: str = "", order: Order | None = None,
             client_ms: int | None = None, name: str = "") -> None:
        self._count += 1
        event = Event(type=kind, id=f"ev{self._count:x}-{self.rng.getrandbits(32):x}", url=HOST + path, vid="" if v.signed else v.vid,
                      ts=float(client_ms) if client_ms is not None else None, name=name,
                      promo=Promo(id=promo, variant="exposed") if promo else None, order=order, env=v.env)
        self.rows.append(encode_row(event, v.ctx, ts_ms=at_ms))
        if order is not None and order.revenue:
            self.revenue[v.vid] = self.revenue.get(v.vid, 0.0) + order.revenue

    def order(self, coupon: str = "", low: float = 15, high: float = 250) -> Order:
        return Order(id=f"o{self.rng.getrandbits(48):x}", revenue=round(self.rng.uniform(low, high), 2), currency="USD", coupon=coupon)

    # --- draws -----------------------------------------------------------------------------
    def browser(self) -> str:
        agents, weights = zip(*self.browser_agents)
        return self.rng.choices(agents, weights)[0]

    def any_ip(self) -> str:
        """An address on a /24 of its own (10.0.0.0/8 gives 65k of them)."""
        n = self.rng.randrange(1 << 16)
        return f"10.{n >> 8}.{n & 255}.{self.rng.randrange(1, 255)}"

    def at(self, day: int | None = None) -> int:
        """A moment in the span, busier by day than at night."""
        rng = self.rng
        day = rng.randrange(self.days) if day is None else day
        hour = rng.choice((8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 20, 21, 21, 22, 23, 1, 6))
        at = self.start_ms + day * DAY_MS + hour * HOUR_MS + rng.randrange(HOUR_MS - 10 * MINUTE_MS)
        return min(at, self.start_ms + self.days * DAY_MS - 3 * HOUR_MS)  # a visit ends inside the span (the seed's ends now)

    def insert(self) -> None:
        if self.rows:
            self.runtime.storage.insert_jsonl("events", b"".join(self.rows), what="writing the trust evaluation")
            self.rows = []


def shopper(pop: Population, v: Visitor, at: int, *, buy: float = 0.3, coupon: str = "", views: bool = True, click: float = 0.15,
            click_ms: tuple[int, int] = (1500, 20000), backend_ua: str = "", pages: tuple[int, int] = (2, 8)) -> int:
    """One ordinary visit from `at`: a landing page and a few more, promotions seen (unless
    `views` is False: an ad-blocker drops their beacons) and sometimes clicked, and with
    probability `buy` a cart, a checkout and a purchase (with `coupon`; sent by the shop's
    backend under `backend_ua` when given). Returns the time of the visit's last event."""
    rng = pop.rng
    pop.emit(v, "pageview", at, path=rng.choice(("/", *CATEGORIES, *PRODUCTS[:10])))
    for _ in range(rng.randrange(*pages)):
        at += rng.randrange(4000, 120_000)
        pop.emit(v, "pageview", at, path=rng.choice(PRODUCTS if rng.random() < 0.7 else CATEGORIES))
        if rng.random() < 0.35:
            promo = rng.choice(PROMOS)
            at += rng.randrange(800, 4000)
            if views:
                pop.emit(v, "promo_view", at, path="/", promo=promo)
            if rng.random() < click:
                at += rng.randrange(*click_ms)
                pop.emit(v, "promo_click", at, path="/", promo=promo)
    if rng.random() < buy:
        at += rng.randrange(5000, 60000)
        pop.emit(v, "add_to_cart", at, path=rng.choice(PRODUCTS))
        at += rng.randrange(3000, 40000)
        pop.emit(v, "pageview", at, path="/cart")
        at += rng.randrange(5000, 60000)
        pop.emit(v, "pageview", at, path="/checkout")
        at += rng.randrange(20000, 180_000)
        pop.emit(v, "pageview", at, path="/thank-you")
        order = pop.order(coupon)
        if backend_ua:  # the shop's server reports the order for this browser visitor
            server = Visitor(v.vid, _with_agent(pop, v.ctx, backend_ua), v.signed, None)
            pop.emit(server, "purchase", at + 900, path="/thank-you", order=order)
        else:
            pop.emit(v, "purchase", at + 150, path="/thank-you", order=order)
    return at


def _with_agent(pop: Population, ctx: Context, ua: str) -> Context:
    return replace(ctx, agent=pop.runtime.agents.parse(ua), has_origin=False, fragment=b"")
