"""The shared arithmetic of report shapes: one meaning for a ratio, one rounding for money."""

from decimal import Decimal

from tracker.reports.figures import cents, money, ratio


def test_ratio_is_none_when_there_is_nothing_to_divide_by():
    assert ratio(1, 3) == 1 / 3 and ratio(0, 4) == 0.0
    assert ratio(5, 0) is None and ratio(0, 0) is None


def test_money_rounds_half_up_to_the_cent():
    assert money(Decimal("0.125")) == 0.13 and money(Decimal("2.3449")) == 2.34
    assert money(None) == 0.0 and money(10) == 10.0


def test_cents_keeps_none():
    assert cents(None) is None and cents(1 / 3) == 0.33
