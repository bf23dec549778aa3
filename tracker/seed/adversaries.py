"""Adversary families for the trust evaluation, each with its parameters swept (issue #14).

Every family writes `n` visitors into a `population.Population`, labelled with the family's
name; each visitor draws its own parameters from the family's sweep, so one run covers the
range (rates, burst widths, prefix spread, agent mixes, with and without cookies, spread over
hours or packed into minutes). The trust rules must exclude at least 95 % of every family
(tests/seed/test_trust_eval.py; loadtests/bench_trust_eval.py prints recall per family).

Agents come from public corpora: crawler-user-agents' instances (a runtime dependency); the
HTTP libraries are the ones shops' backends and scrapers use.
"""

from __future__ import annotations

from collections.abc import Callable

import crawleruseragents

from tracker.seed.population import CATEGORIES, ENV, HOUR_MS, MINUTE_MS, PRODUCTS, PROMOS, Population, shopper
from tracker.ingest.schema import Env

HEADLESS_UAS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Puppeteer",
)
HTTP_LIBRARIES = (
    "curl/8.5.0", "python-requests/2.31.0", "Go-http-client/2.0", "Java/17.0.2", "okhttp/4.12.0", "axios/1.6.7",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", "Wget/1.21.4", "libwww-perl/6.72", "python-httpx/0.27.0",
    "aiohttp/3.9.3", "python-urllib/3.11",
)
WEBDRIVER = Env(webdriver=True, screen="800x600", lang="en-US", tz="UTC")


def _crawler_agents() -> list[str]:
    return [ua for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA for ua in entry.get("instances", [])]


CRAWLERS = _crawler_agents()


def crawler(pop: Population, n: int) -> None:
    """Crawlers with agents from the public corpus: 1-40 pages 0.3-20 s apart; some without a
    cookie (each request a fresh unsigned id, as a cookieless crawler looks)."""
    rng = pop.rng
    for _ in range(n):
        ua, cookies = rng.choice(CRAWLERS), rng.random() < 0.7
        v = pop.visitor("crawler", ua=ua, signed=cookies, env=None)
        at, gap = pop.at(), rng.choice((300, 2000, 20000))
        for _ in range(rng.randrange(1, 40) if cookies else 1):
            at += rng.randrange(gap // 2, gap * 2)
            pop.emit(v, "pageview", at, path=rng.choice((*CATEGORIES, *PRODUCTS)))


def headless(pop: Population, n: int) -> None:
    """Headless and automated browsers, with and without navigator.webdriver, slow or fast."""
    rng = pop.rng
    for _ in range(n):
        webdriver = rng.random() < 0.5
        ua = rng.choice(HEADLESS_UAS) if not webdriver or rng.random() < 0.5 else pop.browser()
        v = pop.visitor("headless", ua=ua, env=WEBDRIVER if webdriver else ENV)
        at = pop.at()
        for _ in range(rng.randrange(3, 60)):
            at += rng.randrange(200, 8000)
            pop.emit(v, "pageview", at, path=rng.choice(PRODUCTS))


def scripted(pop: Population, n: int) -> None:
    """Pageviews from HTTP libraries (a scraper or a load script), with and without cookies."""
    rng = pop.rng
    for _ in range(n):
        v = pop.visitor("scripted", ua=rng.choice(HTTP_LIBRARIES), signed=rng.random() < 0.6, env=None)
        at = pop.at()
        for _ in range(rng.randrange(1, 30)):
            at += rng.randrange(100, 30000)
            pop.emit(v, "pageview", at, path=rng.choice(PRODUCTS))


def velocity(pop: Population, n: int) -> None:
    """Scrapers in a real browser's agent at 150-600 events a minute."""
    rng = pop.rng
    for _ in range(n):
        v = pop.visitor("velocity")
        at, gap = pop.at(), rng.randrange(100, 400)
        for _ in range(rng.randrange(160, 500)):
            at += rng.randrange(gap // 2, gap + gap // 2)
            pop.emit(v, "pageview", at, path=rng.choice(PRODUCTS))


def click_burst(pop: Population, n: int) -> None:
    """Click fraud in bursts: 8-30 promo clicks 60-1200 ms apart, no views, 0-2 pageviews,
    starting at any second of a minute (a per-minute count misses the burst that straddles it)."""
    rng = pop.rng
    for _ in range(n):
        v = pop.visitor("click_burst")
        at = pop.at()
        for _ in range(rng.randrange(0, 3)):
            pop.emit(v, "pageview", at, path="/")
            at += rng.randrange(1000, 20000)
        gap = rng.choice((60, 150, 300, 600, 1200))
        for _ in range(rng.randrange(8, 31)):
            at += rng.randrange(gap // 2, gap + gap // 2)
            pop.emit(v, "promo_click", at, path="/", promo=rng.choice(PROMOS))


def blind_clicks(pop: Population, n: int) -> None:
    """Slower click fraud: 5-20 clicks 2-40 s apart, none after a view, at most two pages."""
    rng = pop.rng
    for _ in range(n):
        v = pop.visitor("blind_clicks")
        at = pop.at()
        for _ in range(rng.randrange(0, 3)):
            pop.emit(v, "pageview", at, path="/")
            at += rng.randrange(1000, 20000)
        for _ in range(rng.randrange(5, 21)):
            at += rng.randrange(2000, 40000)
            pop.emit(v, "promo_click", at, path="/", promo=rng.choice(PROMOS))


def fast_click(pop: Population, n: int) -> None:
    """Bots that render the promotion and click it 10-180 ms later, 2-12 times."""
    rng = pop.rng
    for _ in range(n):
        v = pop.visitor("fast_click")
        at = pop.at()
        pop.emit(v, "pageview", at, path="/")
        for _ in range(rng.randrange(2, 13)):
            at += rng.randrange(1000, 30000)
            promo = rng.choice(PROMOS)
            pop.emit(v, "promo_view", at, path="/", promo=promo, client_ms=at)
            pop.emit(v, "promo_click", at, path="/", promo=promo, client_ms=at + rng.randrange(10, 180))


def cookie_churn(pop: Population, n: int) -> None:
    """Fresh ids from one /24: bursts of 20-60 ids within 1-9 minutes, each a short visit."""
    rng = pop.rng
    left = n
    while left > 0:
        size = left if left < 40 else min(left - 20, rng.randrange(20, 61))  # every burst at least 20 ids
        left -= size
        net, start, width = f"172.{rng.randrange(16, 32)}.{rng.randrange(256)}.", pop.at(), rng.randrange(1, 10) * MINUTE_MS
        for _ in range(size):
            v = pop.visitor("cookie_churn", ip=f"{net}{rng.randrange(1, 255)}", signed=rng.random() < 0.8)
            at = start + rng.randrange(width)
            pop.emit(v, "pageview", at, path="/")
            if rng.random() < 0.6:
                promo = rng.choice(PROMOS)
                pop.emit(v, "promo_view", at + 1200, path="/", promo=promo)
                pop.emit(v, "promo_click", at + rng.randrange(2000, 6000), path="/", promo=promo)


def coupon_leak(pop: Population, n: int) -> None:
    """A code leaked to a forum: crowds of 15-60 fresh ids on 1-4 /24s, packed into 10-90
    minutes or spread over 2-8 hours (then on at most two /24s), straight to the checkout."""
    rng = pop.rng
    left = n
    while left > 0:
        size = left if left < 30 else min(left - 15, rng.randrange(15, 61))  # every crowd at least 15
        left -= size
        code = f"LEAK{rng.randrange(10_000)}"
        packed = rng.random() < 0.6
        nets = [f"100.{rng.randrange(128, 255)}.{rng.randrange(256)}." for _ in range(rng.randrange(1, 5) if packed else rng.randrange(1, 3))]
        start, width = pop.at(), (rng.randrange(10, 91) * MINUTE_MS if packed else rng.randrange(2, 9) * HOUR_MS)
        for _ in range(size):
            v = pop.visitor("coupon_leak", ip=f"{rng.choice(nets)}{rng.randrange(1, 255)}")
            at = start + rng.randrange(width)
            if rng.random() < 0.5:
                pop.emit(v, "pageview", at, path=rng.choice(PRODUCTS))
                at += rng.randrange(3000, 30000)
            pop.emit(v, "pageview", at, path="/checkout")
            pop.emit(v, "purchase", at + rng.randrange(5000, 60000), path="/thank-you", order=pop.order(code, 40, 300))


def unsigned(pop: Population, n: int) -> None:
    """Clients that send an id of their own choosing (never signed by the server)."""
    for _ in range(n):
        v = pop.visitor("unsigned", signed=False)
        shopper(pop, v, pop.at(), buy=0.2)


def purchase_only(pop: Population, n: int) -> None:
    """Purchases (or promo clicks) posted with no page ever seen: fake orders to game revenue."""
    rng = pop.rng
    for _ in range(n):
        v = pop.visitor("purchase_only")
        at = pop.at()
        for _ in range(rng.randrange(1, 4)):
            at += rng.randrange(1000, HOUR_MS)
            pop.emit(v, "purchase", at, path="/thank-you", order=pop.order(rng.choice(("", "", "SAVE10")), 5, 60))


FAMILIES: dict[str, Callable[[Population, int], None]] = {
    "crawler": crawler, "headless": headless, "scripted": scripted, "velocity": velocity, "click_burst": click_burst,
    "blind_clicks": blind_clicks, "fast_click": fast_click, "cookie_churn": cookie_churn, "coupon_leak": coupon_leak,
    "unsigned": unsigned, "purchase_only": purchase_only,
}
