"""The demo shop's catalogue and its promotions: a few products in two categories, a hero
promotion with a holdout (so the lift report has something to measure) and a banner."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    category: str
    price: float
    blurb: str
    hue: int  # the product "photo" is a CSS gradient of this hue


@dataclass(frozen=True)
class Category:
    name: str
    tagline: str


@dataclass(frozen=True)
class DemoPromo:
    id: str
    name: str
    creative: str
    slot: str
    holdout_pct: float
    coupons: tuple[str, ...]


CATEGORIES = {
    "shoes": Category("Shoes", "Light, sturdy, made to walk far."),
    "bags": Category("Bags", "Carry everything, notice nothing."),
}

PRODUCTS = {
    p.sku: p
    for p in (
        Product("SH-101", "Trail runner", "shoes", 89.0, "Grippy sole, breathable mesh, 280 g.", 18),
        Product("SH-102", "City sneaker", "shoes", 69.0, "Clean leather upper for every day.", 210),
        Product("SH-103", "Rain boot", "shoes", 54.5, "Natural rubber, warm lining.", 140),
        Product("BG-201", "Day pack 18 L", "bags", 64.0, "Laptop sleeve and a bottle pocket.", 265),
        Product("BG-202", "Canvas tote", "bags", 24.0, "Heavy cotton canvas, long handles.", 40),
        Product("BG-203", "Weekender", "bags", 119.0, "Two days of clothes, one zip.", 330),
    )
}

# The same promotion ids, coupon and holdout share as `tracker seed --site demo`, so live clicks
# and seeded traffic add up in the same report rows.
HERO = DemoPromo("SUMMER", "Summer sale", "hero-blue", "home_hero", 10.0, ("SUMMER20",))
BANNER = DemoPromo("FREESHIP", "Free shipping", "strip", "top_banner", 0.0, ())
COUPON_DISCOUNT = 0.20  # SUMMER20


def featured() -> list[Product]:
    return [PRODUCTS["SH-101"], PRODUCTS["BG-201"], PRODUCTS["SH-102"], PRODUCTS["BG-202"]]


def as_json() -> list[dict]:
    """What the cart pages' script needs to price a cart."""
    return [{"sku": p.sku, "name": p.name, "price": p.price} for p in PRODUCTS.values()]


def in_category(slug: str) -> list[Product]:
    return [p for p in PRODUCTS.values() if p.category == slug]


def ensure_demo_promos(runtime) -> None:
    """Register the demo's promotions on the demo site the first time the shop is shown, so
    /api/assign holds out the hero's share; an admin's later `tracker promo set` wins."""
    if runtime.sites.get("demo") is None:
        return
    promos = runtime.promos
    for promo in (HERO, BANNER):
        if promos.get("demo", promo.id) is None:
            promos.set("demo", promo.id, name=promo.name, holdout_pct=promo.holdout_pct, coupons=promo.coupons)
