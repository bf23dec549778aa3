"""The arithmetic every report's `shape` shares: ratios and money.

One meaning each, so two reports never disagree on a 0/0 or a cent:
- `ratio(part, whole)` is None when there is nothing to divide by. A report whose API promises
  a number there (an overview of no sessions has a bounce rate of 0) says so where it calls it:
  `ratio(bounces, sessions) or 0.0`.
- `money(amount)` is a stored Decimal(18, 4) amount rounded half-up to the cent;
  `cents(value)` rounds a derived figure (an average order value) to the cent, None kept.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def ratio(part: float, whole: float) -> float | None:
    """part / whole, unrounded (clients round for display); None when whole is 0."""
    return part / whole if whole else None


def money(amount: Any) -> float:
    """A stored amount (Decimal, float, None) to the cent, half-up: 0.125 -> 0.13."""
    return float(Decimal(str(amount or 0)).quantize(CENT, rounding=ROUND_HALF_UP))


def cents(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
