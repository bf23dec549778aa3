"""The score arithmetic and the weight settings, without a database."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tracker.config import Settings
from tracker.errors import ConfigError
from tracker.reports.trust.score import CODES, REASONS, TrustConfig, evidence, excluded, parse_weights, score_of, trust_params

DEFAULT = TrustConfig.from_settings(Settings())  # the one set of defaults: Settings'


def test_score_is_100_minus_weights_floored_at_0():
    weights = {code: w for code, (w, _) in REASONS.items()}
    assert score_of([], weights) == 100
    assert score_of(["purchase_without_pageview"], weights) == 80
    assert score_of(["purchase_without_pageview", "clock_skew"], weights) == 60
    assert score_of(["bot_user_agent", "headless"], weights) == 0


def test_excluded_means_at_or_below_threshold():
    assert excluded(50, 50) and excluded(0, 50) and not excluded(51, 50)


def test_default_weights_strong_and_weak():
    weights = {code: w for code, (w, _) in REASONS.items()}
    strong = {c for c in CODES if weights[c] >= 50}
    assert {"bot_user_agent", "headless", "webdriver", "velocity", "cookie_churn_ip"} <= strong
    assert {"purchase_without_pageview", "clock_skew", "scripted_client"}.isdisjoint(strong)
    assert weights["scripted_client"] <= 10  # curl alone never excludes: server-side senders are legitimate


def test_weight_overrides_from_settings():
    settings = Settings.load({"trust_weights": "velocity=40, scripted_client=0"}, env={})
    config = TrustConfig.from_settings(settings)
    assert config.weights["velocity"] == 40 and config.weights["scripted_client"] == 0
    assert config.weights["webdriver"] == 100
    assert trust_params(config)["trust_weights"][CODES.index("velocity")] == 40


@pytest.mark.parametrize("bad", ["velocity", "nope=10", "velocity=x", "velocity=101", "velocity=-1"])
def test_bad_weight_overrides(bad):
    with pytest.raises(ConfigError):
        parse_weights([bad])


def test_threshold_range_checked():
    with pytest.raises(ConfigError):
        TrustConfig.from_settings(Settings.load({"trust_threshold": 101}, env={}))


def test_partials_config_changes_with_fast_click_ms():
    assert replace(DEFAULT, fast_click_ms=200).partials_config != replace(DEFAULT, fast_click_ms=300).partials_config
    assert replace(DEFAULT, velocity_per_minute=10).partials_config == DEFAULT.partials_config  # applied after partials


def test_evidence_names_counts_and_thresholds():
    row = {"reasons": ["velocity", "coupon_shared"], "max_per_minute": 300, "velocity_at": None, "shared_coupon": "LEAK",
           "shared_coupon_visitors": 40, "shared_coupon_prefixes": 12, "coupon_prefix_redeemers": 30, "coupon_burst": 25,
           "lk_fresh": 1, "lk_unseen": 0, "lk_registered": 0}
    got = evidence(row, DEFAULT)
    assert got["velocity"]["max_events_per_minute"] == 300 and got["velocity"]["threshold"] == 120
    assert got["coupon_shared"] == {"coupon": "LEAK", "visitors": 40, "ip_prefixes": 12, "redeemers_in_prefix": 30,
                                    "redeemers_in_burst": 25, "fresh_checkout": True, "promotion_unseen": False, "registered": False}
