"""The attribution arithmetic without a database: model shares and cent-exact rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tracker.reports.attribution import MODELS, apportion_cents, decay_weight, share
from tracker.reports.promotions import shape


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("n", [1, 2, 3, 4, 7])
def test_shares_of_one_purchase_add_up_to_one(model, n):
    decays = [decay_weight(age, 7) for age in range(n)]
    total = sum(share(model, n, pos, pos == n, decays[pos - 1], sum(decays)) for pos in range(1, n + 1))
    assert total == pytest.approx(1.0, abs=1e-12)


def test_position_weights():
    assert [share("position", 1, 1, True)] == [1.0]
    assert [share("position", 2, p, p == 2) for p in (1, 2)] == [0.5, 0.5]
    assert [share("position", 3, p, p == 3) for p in (1, 2, 3)] == [0.4, 0.2, 0.4]
    assert [share("position", 4, p, p == 4) for p in (1, 2, 3, 4)] == [0.4, 0.1, 0.1, 0.4]


def test_decay_halves_per_half_life():
    assert decay_weight(0, 7) == 1.0
    assert decay_weight(7 * 86400, 7) == pytest.approx(0.5)
    assert decay_weight(14 * 86400, 7) == pytest.approx(0.25)


@pytest.mark.parametrize(("values", "total", "expected"), [
    ([10 / 3] * 3, "10.00", None),
    ([50 + 10 / 3, 50 + 10 / 3, 50 + 19.99 + 10 / 3], "179.99", None),
    ([0.004, 0.004, 0.002], "0.01", [0.01, 0.0, 0.0]),
    ([1.25, 2.75], "4.00", [1.25, 2.75]),
    ([], "0", []),
])
def test_apportion_cents_adds_up(values, total, expected):
    got = apportion_cents(values, Decimal(total))
    assert round(sum(got), 2) == float(total)
    assert all(abs(g - v) < 0.01 + 1e-9 for g, v in zip(got, values))
    if expected is not None:
        assert got == expected


def test_shape():
    grouped = [
        {"promo_id": "A", "dim": "", "impressions": 4, "viewers": 3, "clicks": 2, "holdout_impressions": 1, "event_name": "Sale",
         "conversions": 1, "touched_revenue": Decimal("10.0000"), "attributed_conversions": 0.5, "attributed_revenue": 5.0,
         "coupon_redemptions": 2, "coupon_revenue": Decimal("20.5000")},
        {"promo_id": "B", "dim": "", "impressions": 0, "viewers": 0, "clicks": 1, "holdout_impressions": 0, "event_name": "",
         "conversions": 1, "touched_revenue": Decimal("10.0000"), "attributed_conversions": 0.5, "attributed_revenue": 5.0,
         "coupon_redemptions": 0, "coupon_revenue": Decimal(0)},
    ]
    rows = shape(grouped, {"B": "Registered B"}, Decimal("10.00"))
    a, b = sorted(rows, key=lambda r: r["promo_id"])
    assert (a["ctr"], a["conversion_rate"], a["aov"], a["revenue_per_1000_impressions"]) == (0.5, 0.5, 10.0, 2500.0)
    assert (a["promo_name"], b["promo_name"], b["ctr"], b["revenue_per_1000_impressions"]) == ("Sale", "Registered B", None, None)
    assert (a["coupon_redemptions"], a["coupon_revenue"]) == (2, 20.5)
    by_slot = shape([{**grouped[0], "dim": "hero"}], {}, Decimal("5.00"), by="slot")
    assert by_slot[0]["slot"] == "hero" and by_slot[0]["coupon_redemptions"] is None
