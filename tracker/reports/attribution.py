"""Attribution models: how one purchase's credit is split among the promos clicked before it.

For each purchase the `promotions` query takes the buyer's promo clicks within the lookback
(click time <= purchase time, oldest first) and the distinct promos among them in first-click
order ("keys"). Per key it knows:
  `n`            how many distinct promos the purchase touches,
  `pos`          the key's place in first-click order (1 = clicked first),
  `k = last_key` whether the key got the latest click,
  `d`            the sum over the key's clicks of 2^(-age / half_life) (age = purchase - click),
  `decay_total`  the same sum over all the purchase's clicks.
Each model is one SQL expression giving the key's share of the purchase. The shares of one
purchase always add up to 1, so attributed conversions of all promos add up to the number of
purchases with at least one click in the lookback, and attributed revenue to their revenue.

Models are an allow-list: the name picks the expression, nothing from the request reaches SQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

MODELS: dict[str, str] = {
    # All credit to the promo of the latest click.
    "last_click": "toFloat64(k = last_key)",
    # All credit to the promo of the earliest click in the lookback.
    "first_click": "toFloat64(pos = 1)",
    # Equal shares over the distinct promos clicked.
    "linear": "1.0 / n",
    # Each click weighs 2^(-age/half_life); weights normalised per purchase, summed per promo.
    "time_decay": "d / decay_total",
    # 40/20/40 over distinct promos in first-click order: 1 promo 100, 2 promos 50/50,
    # 3+ promos 40 first, 40 last and 20 shared by the ones in between.
    "position": "multiIf(n = 1, 1.0, n = 2, 0.5, pos = 1 OR pos = n, 0.4, 0.2 / (n - 2))",
}
DEFAULT_MODEL = "last_click"


def share(model: str, n: int, pos: int, is_last: bool, decay: float = 1.0, decay_total: float = 1.0) -> float:
    """The same rule as `MODELS`, in Python: documents and tests the arithmetic per key."""
    if model == "last_click":
        return 1.0 if is_last else 0.0
    if model == "first_click":
        return 1.0 if pos == 1 else 0.0
    if model == "linear":
        return 1.0 / n
    if model == "time_decay":
        return decay / decay_total
    if model == "position":
        if n == 1:
            return 1.0
        if n == 2:
            return 0.5
        return 0.4 if pos in (1, n) else 0.2 / (n - 2)
    raise ValueError(f"unknown model {model!r}")


def decay_weight(age_seconds: float, half_life_days: float) -> float:
    return math.pow(2.0, -age_seconds / (half_life_days * 86400.0))


def apportion_cents(values: Sequence[float], total: Decimal) -> list[float]:
    """Round each value to the cent so that the rounded values add up exactly to `total`.

    Largest-remainder rounding: floor every value to the cent, then hand the cents still
    missing to the values that lost the most. Independent rounding could leave the promos'
    attributed revenue a cent or two off the purchases' revenue (1/3 + 1/3 + 1/3 of 10.00).
    """
    cent = Decimal("0.01")
    total = total.quantize(cent, rounding=ROUND_HALF_UP)
    exact = [Decimal(repr(v)) for v in values]
    floors = [(v / cent).to_integral_value(rounding="ROUND_FLOOR") for v in exact]
    missing = int((total / cent) - sum(floors, Decimal(0)))
    order = sorted(range(len(exact)), key=lambda i: (exact[i] / cent - floors[i]), reverse=True)
    cents = list(floors)
    if order:
        # Missing may exceed the count only through float noise; spread it round-robin.
        step = 1 if missing >= 0 else -1
        for k in range(abs(missing)):
            cents[order[k % len(order)] if step > 0 else order[-1 - (k % len(order))]] += step
    return [float(c * cent) for c in cents]
