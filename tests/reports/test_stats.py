"""The lift statistics, checked against scipy and hand-computed textbook values (no database)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sp

from tracker.reports import stats
from tracker.reports.lift import shape


def scipy_reference(x_a: int, n_a: int, x_b: int, n_b: int) -> tuple[float, float, float]:
    """p-value via scipy's chi-square test of the 2x2 table (equals the pooled z-test squared),
    and the Wald interval with scipy's normal quantile."""
    table = np.array([[x_a, n_a - x_a], [x_b, n_b - x_b]])
    _, p_value, _, _ = sp.chi2_contingency(table, correction=False)
    p_a, p_b = x_a / n_a, x_b / n_b
    se = math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    q = sp.norm.ppf(0.975)
    return float(p_value), p_a - p_b - q * se, p_a - p_b + q * se


@pytest.mark.parametrize(("x_a", "n_a", "x_b", "n_b"), [
    (250, 2000, 200, 2000), (120, 1000, 100, 1000), (30, 400, 45, 410), (7, 31, 3, 30), (1, 50, 0, 60), (500, 1000, 480, 1000),
])
def test_matches_scipy(x_a, n_a, x_b, n_b):
    got = stats.compare(x_a, n_a, x_b, n_b)
    p_value, low, high = scipy_reference(x_a, n_a, x_b, n_b)
    assert got.p_value == pytest.approx(p_value, rel=1e-9)
    assert got.ci_low == pytest.approx(low, rel=1e-9) and got.ci_high == pytest.approx(high, rel=1e-9)
    assert got.p_value == pytest.approx(2 * sp.norm.sf(abs(got.z)), rel=1e-9)


def test_textbook_example():
    # 12% of 1,000 vs 10% of 1,000: pooled p = 0.11, SE = sqrt(.11 * .89 * 2/1000) = 0.013993,
    # z = 0.02 / 0.013993 = 1.429, two-sided p = 0.153; Wald SE = 0.013959, CI 0.02 +- 0.02736.
    got = stats.compare(120, 1000, 100, 1000)
    assert got.z == pytest.approx(1.4293, abs=1e-4)
    assert got.p_value == pytest.approx(0.1529, abs=1e-4)
    assert (round(got.ci_low, 4), round(got.ci_high, 4)) == (-0.0074, 0.0474)
    assert got.absolute_lift == pytest.approx(0.02) and got.relative_lift == pytest.approx(0.2)
    assert not got.significant and got.verdict == "no significant difference"


def test_significant_lift_and_drop():
    up = stats.compare(250, 2000, 200, 2000)  # 12.5% vs 10%: z = 2.50, p = 0.0124
    assert up.p_value == pytest.approx(0.01235, abs=1e-5)
    assert up.significant and up.verdict == "lifts conversion by 2.5 pp"
    down = stats.compare(200, 2000, 250, 2000)
    assert down.z == pytest.approx(-up.z) and down.p_value == pytest.approx(up.p_value)
    assert down.significant and down.verdict == "lowers conversion by 2.5 pp"
    assert down.relative_lift == pytest.approx(-0.2)


@pytest.mark.parametrize(("x_a", "n_a", "x_b", "n_b"), [
    (20, 29, 1, 100),  # a group under 30 visitors
    (0, 500, 0, 500),  # nobody converted
    (0, 0, 5, 100),  # no exposed visitor at all
])
def test_not_enough_data(x_a, n_a, x_b, n_b):
    got = stats.compare(x_a, n_a, x_b, n_b)
    assert got.verdict == "not enough data" and not got.significant


def test_edge_cases():
    none = stats.compare(0, 0, 0, 0)
    assert none.rate_a is None and none.p_value is None and none.ci_low is None
    everyone = stats.compare(40, 40, 40, 40)  # pooled SE is 0: equal rates, no evidence
    assert everyone.p_value == 1.0 and everyone.verdict == "no significant difference"
    no_base = stats.compare(10, 100, 0, 100)
    assert no_base.relative_lift is None and no_base.absolute_lift == pytest.approx(0.1)
    with pytest.raises(ValueError):
        stats.compare(5, 4, 0, 10)
    assert stats.normal_two_sided_p(1.959963984540054) == pytest.approx(0.05, abs=1e-12)
    assert stats.normal_two_sided_p(0) == 1.0


def test_summary_shape():
    body = shape("SUMMER", (2000, 250), (2000, 200))
    assert body["exposed"] == {"visitors": 2000, "converters": 250, "conversion_rate": 0.125}
    assert body["holdout"] == {"visitors": 2000, "converters": 200, "conversion_rate": 0.1}
    assert body["method"] == stats.METHOD and "pooled" in body["method"] and "Wald" in body["method"]
    assert body["absolute_lift"] == pytest.approx(0.025) and body["relative_lift"] == pytest.approx(0.25)
    assert body["ci_low"] < body["absolute_lift"] < body["ci_high"] and body["significant"] is True
