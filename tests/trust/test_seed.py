"""Precision and recall on `tracker.seed`'s synthetic shop, whose ground truth says which
visitor ids are humans, bots or fraud (the ids themselves carry no hint).

Configuration as a shop would set it: the seed's public coupon codes are public.

Every kind counts toward the recall bar, cookie churn included: the seed plans it as bursts
of fresh ids from one prefix within minutes, which is what churn looks like.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tracker import seed as seeding
from tracker.reports._params import parse_common
from tracker.reports.trust import score
from tracker.reports.trust.signals import bind_coverage


@pytest.fixture(scope="module")
def seeded(runtime):
    result = seeding.seed(runtime, f"seed-trust-{datetime.now(UTC):%H%M%S%f}", visitors=4000, days=14, seed=7)
    today = datetime.now(UTC).date()
    config = score.TrustConfig(public_coupons=seeding.COUPONS)
    bind = {**parse_common({"site": result.site, "from": (today - timedelta(days=15)).isoformat(), "to": today.isoformat()}).bind(),
            **score.trust_params(config)}
    rows = runtime.storage.dicts(f"SELECT vid, score, reasons FROM ({score.VISITOR_SCORES})", bind_coverage(runtime.storage, bind))
    excluded = {r["vid"] for r in rows if r["score"] <= config.threshold}
    return result, excluded, {r["vid"]: r for r in rows}


def test_false_positives_on_humans_at_most_1_percent(seeded):
    result, excluded, rows = seeded
    flagged = [v for v in result.humans if v in excluded]
    assert len(result.humans) > 3000
    assert len(flagged) <= 0.01 * len(result.humans), Counter(tuple(rows[v]["reasons"]) for v in flagged).most_common(5)


def test_bots_and_fraud_caught_at_least_95_percent(seeded):
    result, excluded, rows = seeded
    bad = list(result.bots) + list(result.fraud)
    caught = [v for v in bad if v in excluded]
    per_kind = Counter(result.fraud[v] for v in result.fraud if v in excluded)
    assert len(caught) >= 0.95 * len(bad), (len(caught), len(bad), per_kind, Counter(result.fraud.values()))
    assert all(v in excluded for v in result.bots)


def test_each_fraud_kind_gets_its_reason(seeded):
    result, excluded, rows = seeded
    # A clicker with fewer than 5 blind clicks is caught as 'actions_only' (it sent nothing else).
    expected = {"click_without_view": {"click_without_view", "actions_only"}, "fast_click": {"fast_click"},
                "purchase_without_pageview": {"purchase_without_pageview"}, "unsigned_id": {"unsigned_id"}, "coupon_shared": {"coupon_shared"},
                "cookie_churn_ip": {"cookie_churn_ip"}}
    for vid, kind in result.fraud.items():
        if kind in expected:
            assert expected[kind] & set(rows[vid]["reasons"]), (kind, rows[vid]["reasons"])


def test_cli_trust_visitors_on_a_seeded_dir(tmp_path):
    def tracker(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tracker", *args, "--data", str(tmp_path)], capture_output=True, text=True, timeout=300)

    seeded = tracker("seed", "--site", "demo", "--visitors", "300", "--days", "2")
    assert seeded.returncode == 0, seeded.stderr
    listed = tracker("trust", "visitors", "--site", "demo", "--json")
    assert listed.returncode == 0, listed.stderr
    import json

    body = json.loads(listed.stdout)
    assert body["total"] > 0 and all(r["score"] <= 50 for r in body["rows"])
    table = tracker("trust", "visitor", body["rows"][0]["vid"], "--site", "demo")
    assert table.returncode == 0 and "score" in table.stdout and body["rows"][0]["reasons"][0] in table.stdout
    bad = tracker("trust", "visitors", "--site", "demo", "--max-score", "300")
    assert bad.returncode == 1 and "max_score must be between 0 and 100" in bad.stderr
