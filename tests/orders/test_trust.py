"""Trust signals on money (tracker/reports/trust/revenue.py) over HTTP on the real app:
the forged purchase of issue #20 leaves trusted traffic, a corrected one is only noted, and
honest buyers keep a full score."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import auth
from tests.orders.test_revenue import confirm, paid

RANGE = {"from": "2026-03-01", "to": "2026-03-03"}


@pytest.fixture
def shop(runtime, client, new_site, journeys):
    site = new_site()
    spec = {f"h{i}": [("pageview", "/", i * 60), ("pageview", "/cart", i * 60 + 20),
                      ("purchase", (f"h{i}", 40.0 + i), i * 60 + 30, {"currency": "EUR"})] for i in range(20)}
    spec["forger"] = [("pageview", "/", 5000), ("purchase", ("fake", 9999999.0), 5010, {"currency": "EUR"})]
    spec["typo"] = [("pageview", "/", 6000), ("purchase", ("m1", 500.0), 6010, {"currency": "EUR"})]
    journeys(site, spec)
    token, _ = runtime.tokens.create(role="ingest", name=f"backend-{uuid.uuid4().hex[:6]}", sites=[site])
    confirm(client, token, site, *[paid(f"h{i}", 40 + i) for i in range(20)], paid("m1", 50))
    return site


def listing(client, token, site, **params):
    r = client.get("/api/trust/visitors", params={"site": site, **RANGE, "max_score": 100, **params}, headers=auth(token))
    assert r.status_code == 200, r.text
    return {row["vid"]: row for row in r.json()["rows"]}


def test_the_forged_purchase_is_excluded_and_the_mismatch_noted(client, shop, fraud_token, marketer_token):
    rows = listing(client, fraud_token, shop)
    forger = rows["forger"]
    assert forger["reasons"] == ["unconfirmed_purchase", "revenue_outlier"] and forger["score"] == 40
    assert forger["evidence"]["revenue_outlier"] == {"purchases": 1, "max_revenue": 9999999.0, "ceiling": 20 * 50.0}  # median of the 21 confirmed orders
    typo = rows["typo"]
    assert typo["reasons"] == ["revenue_mismatch"] and typo["score"] == 80
    assert typo["evidence"]["revenue_mismatch"] == {"purchases": 1, "order_id": "m1", "browser_revenue": 500.0, "confirmed_revenue": 50.0}
    assert all(rows[f"h{i}"]["score"] == 100 for i in range(20))
    # The marketers' overview leaves the forger out of trusted traffic, and only it.
    r = client.get("/api/reports/overview", params={"site": shop, **RANGE}, headers=auth(marketer_token))
    assert r.status_code == 200 and r.json()["excluded_visitors"] == 1
    one = client.get(f"/api/trust/visitors/forger", params={"site": shop, **RANGE}, headers=auth(fraud_token)).json()
    assert one["signals"]["unconfirmed_purchase"] == {"fired": True, "value": 1, "weight": 30}
    assert one["signals"]["revenue_mismatch"]["fired"] is False


def test_listing_by_reason(client, shop, fraud_token):
    assert set(listing(client, fraud_token, shop, reason="revenue_mismatch")) == {"typo"}


def test_a_site_without_confirmations_has_no_unconfirmed_reason(client, new_site, journeys, fraud_token):
    site = new_site()
    journeys(site, {"v1": [("pageview", "/", 0), ("purchase", ("o1", 20.0), 10)]})
    assert listing(client, fraud_token, site)["v1"]["reasons"] == []


def test_a_late_confirmation_changes_the_trusted_figures_at_once(runtime, client, shop, marketer_token, fraud_token):
    """The range's untrusted set is kept fresh in the background; a confirmation must count as
    a change of the range's data (trust/live.py's fingerprint)."""
    q = {"site": shop, **RANGE}
    assert client.get("/api/reports/overview", params=q, headers=auth(marketer_token)).json()["excluded_visitors"] == 1
    token, _ = runtime.tokens.create(role="ingest", name="backend-late", sites=[shop])
    confirm(client, token, shop, paid("fake", "9999999"))  # the order was real after all
    # Confirmed at the browser's amount: only the outlier remains (70), so the buyer is back.
    assert listing(client, fraud_token, shop)["forger"]["reasons"] == ["revenue_outlier"]
    assert runtime.trust_sets.refresh(shop, force=True) >= 1  # the background pass (force: skip its pacing)
    assert client.get("/api/reports/overview", params=q, headers=auth(marketer_token)).json()["excluded_visitors"] == 0
