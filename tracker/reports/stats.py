"""Statistics for the `lift` report: exposed vs holdout conversion, compared honestly.

Pure functions on counts (no database, no scipy: the normal tail comes from `math.erfc`), so
they are tested against scipy and textbook values without ClickHouse.

Method (named in every response as `METHOD`):
- two-sided two-proportion z-test with the POOLED standard error — under the null hypothesis
  both groups share one rate, so the pooled rate is the right variance estimate for the test;
- 95% confidence interval for the difference with the UNPOOLED (Wald) standard error — the
  interval describes the difference actually observed, so each group keeps its own variance.
The two can disagree at the margin; `significant` follows the p-value of the test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tracker.reports.figures import ratio

METHOD = "two-proportion z-test (pooled SE, two-sided); 95% Wald interval for the difference (unpooled SE)"
ALPHA = 0.05
Z_95 = 1.959963984540054  # the 97.5th percentile of the standard normal distribution
MIN_GROUP = 30  # fewer visitors than this in either group: too few for the normal approximation


@dataclass(frozen=True)
class Comparison:
    """Exposed (group a) against holdout (group b). Rates and lifts are proportions (0.05 = 5 pp)."""

    rate_a: float | None
    rate_b: float | None
    absolute_lift: float | None
    relative_lift: float | None
    ci_low: float | None
    ci_high: float | None
    z: float | None
    p_value: float | None
    significant: bool
    verdict: str


def normal_two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z: erfc(|z| / sqrt 2)."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def z_test(x_a: int, n_a: int, x_b: int, n_b: int) -> tuple[float, float]:
    """Pooled two-proportion z statistic and its two-sided p-value (needs n_a, n_b > 0)."""
    pooled = (x_a + x_b) / (n_a + n_b)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b))
    diff = x_a / n_a - x_b / n_b
    if se == 0.0:
        # Nobody or everybody converted in both groups: the rates are equal, no evidence of a difference.
        return 0.0, 1.0
    z = diff / se
    return z, normal_two_sided_p(z)


def wald_interval(x_a: int, n_a: int, x_b: int, n_b: int, z_crit: float = Z_95) -> tuple[float, float]:
    """Unpooled (Wald) confidence interval for rate_a - rate_b."""
    p_a, p_b = x_a / n_a, x_b / n_b
    se = math.sqrt(p_a * (1.0 - p_a) / n_a + p_b * (1.0 - p_b) / n_b)
    diff = p_a - p_b
    return diff - z_crit * se, diff + z_crit * se


def verdict(x_a: int, n_a: int, x_b: int, n_b: int, p_value: float | None) -> str:
    """The plain-language reading shown to a marketer."""
    if n_a < MIN_GROUP or n_b < MIN_GROUP or x_a + x_b == 0 or p_value is None:
        return "not enough data"
    if p_value >= ALPHA:
        return "no significant difference"
    diff_pp = (x_a / n_a - x_b / n_b) * 100.0
    direction = "lifts" if diff_pp > 0 else "lowers"
    return f"{direction} conversion by {abs(diff_pp):.1f} pp"


def compare(x_a: int, n_a: int, x_b: int, n_b: int) -> Comparison:
    """Exposed (x_a converters of n_a visitors) vs holdout (x_b of n_b)."""
    if min(x_a, n_a, x_b, n_b) < 0 or x_a > n_a or x_b > n_b:
        raise ValueError("converters must be between 0 and visitors")
    rate_a, rate_b = ratio(x_a, n_a), ratio(x_b, n_b)
    if rate_a is None or rate_b is None:
        return Comparison(rate_a, rate_b, None, None, None, None, None, None, False, verdict(x_a, n_a, x_b, n_b, None))
    diff = rate_a - rate_b
    relative = diff / rate_b if rate_b > 0 else None
    z, p = z_test(x_a, n_a, x_b, n_b)
    low, high = wald_interval(x_a, n_a, x_b, n_b)
    text = verdict(x_a, n_a, x_b, n_b, p)
    significant = text not in ("not enough data", "no significant difference")
    return Comparison(rate_a, rate_b, diff, relative, low, high, z, p, significant, text)
