"""Confounders: real shoppers who look odd, and must stay trusted (issue #14).

Each writes `n` visitors labelled with its name into a `population.Population`; every one is a
human, so every exclusion among them is a false positive. The bar: at most 1 % of each
confounder excluded, and at most 0.5 % of the revenue of trusted humans (confounders and the
background `humans`) wrongly excluded (tests/seed/test_trust_eval.py,
loadtests/bench_trust_eval.py).

- office: dozens of colleagues behind one /24, shopping over the days, some with a coupon;
- cgnat: a mobile carrier's /24 (CGNAT) with dozens of phones, several arriving the same hour;
- newsletter: a popular code nobody registered (NEWS15), redeemed from many networks by
  shoppers who browse first, many of them within hours of the mailing;
- adblock: an ad-blocker drops every promo view beacon, clicks still arrive;
- quick_clicker: clicks 250-700 ms after the view (fast, but human);
- tabs: several tabs open at once, pages interleaved within seconds;
- returning: three to six visits on different days, buying on the last, sometimes straight
  to the checkout from a saved cart;
- backend_orders: browsing in a real browser, the purchase reported by the shop's backend
  (python-requests).
"""

from __future__ import annotations

from collections.abc import Callable

from tracker.seed.population import HOUR_MS, PRODUCTS, PROMOS, Population, shopper

NEWSLETTER_CODE = "NEWS15"


def humans(pop: Population, n: int) -> None:
    """The background: ordinary shoppers on networks of their own."""
    for _ in range(n):
        v = pop.visitor("human")
        shopper(pop, v, pop.at(), buy=0.25, coupon=pop.rng.choice(("", "", "", "SAVE10", NEWSLETTER_CODE)))


def _shared_network(pop: Population, n: int, label: str, net: str, same_hour: float) -> None:
    rng = pop.rng
    rush = pop.at()
    for _ in range(n):
        v = pop.visitor(label, ip=f"{net}{rng.randrange(1, 255)}")
        at = rush + rng.randrange(HOUR_MS) if rng.random() < same_hour else pop.at()
        shopper(pop, v, at, buy=0.3, coupon=rng.choice(("", "", NEWSLETTER_CODE, "SAVE10")))


def office(pop: Population, n: int) -> None:
    _shared_network(pop, n, "office", f"192.168.{pop.rng.randrange(256)}.", same_hour=0.1)


def cgnat(pop: Population, n: int) -> None:
    _shared_network(pop, n, "cgnat", f"100.{pop.rng.randrange(64, 128)}.{pop.rng.randrange(256)}.", same_hour=0.3)


def newsletter(pop: Population, n: int) -> None:
    rng = pop.rng
    mailing = pop.at(0)
    for i in range(n):
        v = pop.visitor("newsletter")
        at = mailing + rng.randrange(3 * HOUR_MS) if i % 2 == 0 else pop.at()
        shopper(pop, v, at, buy=1.0, coupon=NEWSLETTER_CODE, pages=(1, 6))


def adblock(pop: Population, n: int) -> None:
    for _ in range(n):
        v = pop.visitor("adblock")
        shopper(pop, v, pop.at(), buy=0.3, views=False, click=0.3, pages=(3, 12))


def quick_clicker(pop: Population, n: int) -> None:
    rng = pop.rng
    for _ in range(n):
        v = pop.visitor("quick_clicker")
        at = pop.at()
        pop.emit(v, "pageview", at, path="/")
        for _ in range(rng.randrange(2, 7)):
            at += rng.randrange(2000, 15000)
            promo = rng.choice(PROMOS)
            pop.emit(v, "promo_view", at, path="/", promo=promo, client_ms=at)
            pop.emit(v, "promo_click", at + rng.randrange(250, 700), path="/", promo=promo, client_ms=at + rng.randrange(250, 700))
            at += 1000
            pop.emit(v, "pageview", at, path=rng.choice(PRODUCTS))
        shopper(pop, v, at + 30000, buy=0.3)


def tabs(pop: Population, n: int) -> None:
    rng = pop.rng
    for _ in range(n):
        v = pop.visitor("tabs")
        at = pop.at()
        pop.emit(v, "pageview", at, path="/c/shoes")
        for _ in range(rng.randrange(3, 9)):  # opened in new tabs, a second or two apart
            at += rng.randrange(300, 2500)
            pop.emit(v, "pageview", at, path=rng.choice(PRODUCTS))
        for _ in range(rng.randrange(4, 20)):  # then read, switching tabs
            at += rng.randrange(2000, 40000)
            pop.emit(v, "pageview", at, path=rng.choice(PRODUCTS))
        shopper(pop, v, at + 5000, buy=0.4)


def returning(pop: Population, n: int) -> None:
    rng = pop.rng
    for _ in range(n):
        v = pop.visitor("returning")
        visits = rng.randrange(3, 7)
        day = rng.randrange(max(1, pop.days - visits))
        for k in range(visits):
            at = pop.at(min(pop.days - 1, day + k))
            if k == visits - 1 and rng.random() < 0.5:  # back from a saved cart: straight to the checkout
                pop.emit(v, "pageview", at, path="/checkout")
                pop.emit(v, "purchase", at + rng.randrange(20000, 90000), path="/thank-you",
                         order=pop.order(rng.choice(("", NEWSLETTER_CODE))))
            else:
                shopper(pop, v, at, buy=0.5 if k == visits - 1 else 0.0)


def backend_orders(pop: Population, n: int) -> None:
    for _ in range(n):
        v = pop.visitor("backend_orders")
        shopper(pop, v, pop.at(), buy=1.0, backend_ua="python-requests/2.31.0")


CONFOUNDERS: dict[str, Callable[[Population, int], None]] = {
    "office": office, "cgnat": cgnat, "newsletter": newsletter, "adblock": adblock, "quick_clicker": quick_clicker,
    "tabs": tabs, "returning": returning, "backend_orders": backend_orders,
}
