"""The traffic model: what each kind of visitor does — humans, bots, and each kind of fraud the
trust wing must catch — drawn from the shop's seeded random generator.

Each visitor kind draws from `shop.rng` and writes through `out` (a `writers._Writer`):
`out.visitor` once (cookie churn replaces it before any event), then `out.emit` per event, in
time order.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from tracker.ingest.schema import Order
from tracker.seed.shop import (
    BOT_SHARE, CHURN_BURST, COUPON_CROWD, COUPONS, FRAUD_KINDS, FRAUD_SHARE, HOLDOUT_SHARE, LEAKED_COUPON, PROMOS, Shop,
)
from tracker.seed.writers import _Writer

if TYPE_CHECKING:
    from tracker.seed import SeedResult


def _variant_of(rng: random.Random) -> str:
    return "holdout" if rng.random() < HOLDOUT_SHARE else "exposed"


def _human(shop: Shop, out: _Writer, vid: str) -> None:
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
                    order = Order(id=f"o{out.count:x}{rng.getrandbits(24):x}", revenue=round(rng.uniform(15, 250), 2), currency="USD",
                                  coupon=coupon)
                    emit("pageview", page["/thank-you"], at, env=env)
                    emit("purchase", page["/thank-you"], at + 150, order=order, env=env)
                    buyer = 0.0  # one order per visitor is plenty


def _bot(shop: Shop, out: _Writer, vid: str) -> None:
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


def _fraud(shop: Shop, out: _Writer, vid: str, kind: str) -> None:
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
        order = Order(id=f"x{out.count:x}{rng.getrandbits(24):x}", revenue=round(rng.uniform(5, 40), 2), currency="USD",
                      coupon=rng.choice(COUPONS))
        emit("purchase", page["/thank-you"], at, order=order)
    elif kind == "unsigned_id":  # the visitor's events carry its id themselves (see Shop.context)
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
    elif kind == "coupon_shared":  # a code leaked to a forum: a crowd on two /24s within 40 minutes, straight to the checkout
        if shop.leaked % COUPON_CROWD == 0:
            shop.leak_at = shop.start_ms()
        shop.leaked += 1
        at = shop.leak_at + rng.randrange(0, 2_400_000)
        out.visitor(vid, rng.choice(shop.browser_agent), rng.choice(shop.leak_network))
        emit("pageview", page[rng.choice(shop.products)], at, env=env)
        emit("add_to_cart", page[rng.choice(shop.products)], at + 9000, env=env)
        emit("pageview", page["/checkout"], at + 30000, env=env)
        order = Order(id=f"c{out.count:x}{rng.getrandbits(24):x}", revenue=round(rng.uniform(60, 400), 2), currency="USD",
                      coupon=LEAKED_COUPON)
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
        elif kind == "coupon_shared":  # whole crowds, kept together like churn bursts
            count = max(COUPON_CROWD, each - each % COUPON_CROWD) if visitors >= 20 * COUPON_CROWD else 0
        else:
            count = max(1, each) if visitors >= 100 else 0
        kinds += [kind] * count
    kinds = kinds[:visitors]
    kinds += ["human"] * (visitors - len(kinds))
    rng.shuffle(kinds)
    return kinds


def visit_all(shop: Shop, out: _Writer, visitors: int, result: SeedResult) -> None:
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
