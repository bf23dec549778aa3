"""The manual sanity ceiling per site (`PATCH /api/admin/sites/{site}`, `tracker site set
--revenue-ceiling`): over HTTP on the real app and chDB, and through the CLI against a real
`tracker serve`. The forged purchase of issue #20 is kept out of revenue by it even where the
automatic ceiling has too few orders to judge by."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import T0, auth
from tests.orders.test_cli import tracker
from tests.orders.test_revenue import confirm, forged_shop, paid, report
from tests.orders.test_trust import listing
from tracker.reports import _sql, revenue


def configure(client, token, site, body):
    return client.patch(f"/api/admin/sites/{site}", json=body, headers=auth(token))


@pytest.fixture
def few(new_site, journeys):
    """18 honest purchases (40..57) and the forgery: fewer than revenue_ceiling_min_orders, so
    no automatic ceiling."""
    site = new_site()
    forged_shop(journeys, site, n=18)
    return site


HONEST = sum(40.0 + i for i in range(18))


def test_a_manual_ceiling_keeps_the_forgery_out_of_browser_revenue(runtime, client, admin_token, few):
    assert report(runtime, "promotions", few)["totals"]["revenue"] == HONEST + 9999999.0
    r = configure(client, admin_token, few, {"revenue_ceiling": 1000})
    assert r.status_code == 200, r.text
    assert r.json()["revenue_ceiling"] == 1000.0 and r.json()["site"] == few
    assert report(runtime, "promotions", few)["totals"] == {"purchases": 18, "revenue": HONEST, "attributed_purchases": 0,
                                                           "attributed_revenue": 0.0}
    assert report(runtime, "overview", few)["revenue"] == HONEST
    listed = client.get("/api/admin/sites", headers=auth(admin_token)).json()["rows"]
    assert next(s for s in listed if s["site"] == few)["revenue_ceiling"] == 1000.0
    # Origins added later keep the setting; 0 goes back to automatic (none here: too few orders).
    assert client.post("/api/admin/sites", json={"site": few, "origins": ["https://few.example"]},
                       headers=auth(admin_token)).json()["revenue_ceiling"] == 1000.0
    assert configure(client, admin_token, few, {"revenue_ceiling": 0}).json()["revenue_ceiling"] is None
    assert report(runtime, "promotions", few)["totals"]["revenue"] == HONEST + 9999999.0


def test_a_manual_ceiling_overrides_the_automatic_one(runtime, client, admin_token, new_site, journeys):
    site = new_site()
    forged_shop(journeys, site)  # 20 honest purchases: automatic ceiling 20 x 50
    params = {"site": site, "start": T0 - timedelta(days=1), "end": T0 + timedelta(days=1), "tz": "UTC"}
    assert revenue.money_of(runtime.storage, params).ceiling == 1000.0
    assert configure(client, admin_token, site, {"revenue_ceiling": 55.5}).status_code == 200
    assert revenue.money_of(runtime.storage, params).ceiling == 55.5
    # Purchases above 55.50 (56..59 and the forgery) count in no figure.
    assert report(runtime, "promotions", site)["totals"]["revenue"] == sum(40.0 + i for i in range(16))


def test_unconfirmed_revenue_and_the_outlier_reason_follow_the_manual_ceiling(runtime, client, admin_token, fraud_token, few):
    token, _ = runtime.tokens.create(role="ingest", name="backend-manual", sites=[few])
    confirm(client, token, few, *[paid(f"h{i}", 40 + i) for i in range(17)])  # h17 (57.00) and the forgery unconfirmed
    params = {"site": few, "start": T0 - timedelta(days=1), "end": T0 + timedelta(days=1), "tz": "UTC"}
    assert "revenue_outlier" not in listing(client, fraud_token, few)["forger"]["reasons"]  # too few orders: no ceiling
    assert configure(client, admin_token, few, {"revenue_ceiling": 500}).status_code == 200
    counting = revenue.money_of(runtime.storage, params)
    assert counting.confirmed and counting.ceiling == 500.0
    row = runtime.storage.query(revenue.reconciliation_sql(_sql.events(False)), {**params, **revenue.bind(counting)}).first()
    assert (row["unconfirmed_orders"], float(row["unconfirmed_revenue"]), row["over_ceiling_orders"]) == (2, 57.0, 1)
    forger = listing(client, fraud_token, few)["forger"]
    assert "revenue_outlier" in forger["reasons"]
    assert forger["evidence"]["revenue_outlier"] == {"purchases": 1, "max_revenue": 9999999.0, "ceiling": 500.0}


@pytest.mark.parametrize("body, message", [
    ({"revenue_ceiling": -1}, "revenue_ceiling must be a number from 0"),
    ({"revenue_ceiling": "1000"}, "revenue_ceiling must be a number from 0"),
    ({"revenue_ceiling": True}, "revenue_ceiling must be a number from 0"),
    ({"revenue_ceiling": None}, "revenue_ceiling must be a number from 0"),
    ({"revenue_ceiling": 1e12}, "revenue_ceiling must be a number from 0"),
    ({"revenue_ceiling": [5]}, "revenue_ceiling must be a number from 0"),
    ({"revenue_cieling": 5}, "unknown setting 'revenue_cieling'"),
    ({}, "name a setting to change"),
])
def test_invalid_settings_are_a_clear_400(client, admin_token, few, body, message):
    r = configure(client, admin_token, few, body)
    assert r.status_code == 400 and message in r.json()["error"], r.text


def test_who_may_change_a_site(runtime, client, admin_token, marketer_token, few, new_site):
    assert configure(client, marketer_token, few, {"revenue_ceiling": 5}).status_code == 403
    assert configure(client, admin_token, "no-such-site-x", {"revenue_ceiling": 5}).status_code == 404
    other = new_site()
    scoped, _ = runtime.tokens.create(role="admin", name="scoped-ceiling", sites=[few])
    assert configure(client, scoped, few, {"revenue_ceiling": 5}).status_code == 200
    assert configure(client, scoped, other, {"revenue_ceiling": 5}).status_code == 404
    r = client.patch(f"/api/admin/sites/{few}", content=b"{not json", headers={**auth(admin_token), "Content-Type": "application/json"})
    assert r.status_code == 400 and "error" in r.json()


def test_the_cli_sets_and_lists_the_ceiling(tracker_server):
    tracker_server.add_site("ceiling-shop", "https://shop.example")
    done = tracker("site", "set", "ceiling-shop", "--revenue-ceiling", "2500", data=tracker_server.data)
    assert done.returncode == 0 and "revenue ceiling 2500" in done.stdout, done.stderr
    listed = tracker("site", "list", data=tracker_server.data)
    assert any(line.split()[0] == "ceiling-shop" and line.split()[-1] == "2500" for line in listed.stdout.splitlines()), listed.stdout
    for bad in ("abc", "-5", "nan", "1e12"):
        refused = tracker("site", "set", "ceiling-shop", "--revenue-ceiling", bad, data=tracker_server.data)
        assert refused.returncode == 1 and "revenue" in refused.stderr and "Traceback" not in refused.stderr, (bad, refused.stderr)
    missing = tracker("site", "set", "no-such-shop", "--revenue-ceiling", "5", data=tracker_server.data)
    assert missing.returncode == 1 and "no-such-shop" in missing.stderr
    assert tracker("site", "set", "ceiling-shop", "--revenue-ceiling", "0", data=tracker_server.data).stdout.strip() \
        == "site ceiling-shop: revenue ceiling automatic"
