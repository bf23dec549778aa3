"""A mixed population where precision matters: ordinary humans (several sessions over days,
fast but human clicks, an office /24 shared by a few colleagues, a newsletter coupon) stay
trusted; the bot, the headless browser and the fraudsters are excluded, from the trust
listing and from the marketers' trusted traffic alike."""

from __future__ import annotations

import pytest

from tests.conftest import BOT_UA, auth
from tracker.reports import _sql
from tracker.reports.params import parse_scope
from tracker.reports.routes import REPORTS
from tracker.reports.runner import Context, execute

DAY = 86400
HEADLESS_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36"
RANGE = {"from": "2026-03-01", "to": "2026-03-31"}


def human(i: int, office: bool) -> list[tuple]:
    ip = {"ip": f"192.0.2.{10 + i % 5}"} if office else {}
    steps = []
    for day in range(3):  # three sessions on three days
        at = day * DAY + i * 300
        steps += [("pageview", "/", at, ip), ("promo_view", "SUMMER", at + 2, ip),
                  ("promo_click", "SUMMER", at + 2.35, ip),  # fast but human: 350 ms
                  ("pageview", "/c/shoes", at + 4, ip), ("pageview", f"/p/{i}", at + 40, ip)]
    if i % 3 == 0:
        steps += [("pageview", "/thank-you", 2 * DAY + i * 300 + 90, ip),
                  ("purchase", (f"h{i}", 30.0), 2 * DAY + i * 300 + 90, {**ip, "coupon": "WELCOME5"})]
    return steps


@pytest.fixture
def shop(journeys, new_site, storage):
    site = new_site()
    # WELCOME5 is the newsletter's code, linked to a promotion: shared by design.
    storage.command(
        "INSERT INTO promos (site, promo_id, name, holdout_pct, coupons, created_at, updated_at) "
        "VALUES ({site:String}, 'NEWS', 'Newsletter', 0, ['WELCOME5'], now64(3), now64(3))",
        {"site": site},
    )
    spec = {f"h{i}": human(i, office=i < 5) for i in range(30)}
    spec["crawler"] = [("pageview", f"/p/{i}", i, {"ua": BOT_UA}) for i in range(20)]
    spec["headless"] = [("pageview", "/", 0, {"ua": HEADLESS_UA, "env": {"webdriver": True}})]
    spec["clicker"] = [("pageview", "/", 0)] + [("promo_click", "SUMMER", 5 + i) for i in range(8)]
    spec["speedy"] = [("pageview", "/", 0)] + [s for k in range(3) for s in (("promo_view", "SUMMER", 10 + k), ("promo_click", "SUMMER", 10.03 + k))]
    spec["checkout-bot"] = [("purchase", ("bot-o", 99.0), 50)]
    return journeys(site, spec)


BAD = {"crawler", "headless", "clicker", "speedy", "checkout-bot"}


def test_humans_trusted_fraud_excluded(shop, scores):
    got = scores(shop)
    humans = {v: r for v, r in got.items() if v.startswith("h") and v != "headless"}
    assert len(humans) == 30
    assert all(r["score"] > 50 for r in humans.values()), {v: r["reasons"] for v, r in humans.items() if r["score"] <= 50}
    assert all(got[v]["score"] <= 50 for v in BAD), {v: got[v]["reasons"] for v in BAD}
    assert "webdriver" in got["headless"]["reasons"] and "headless" in got["headless"]["reasons"]
    assert "click_without_view" in got["clicker"]["reasons"] and "fast_click" in got["speedy"]["reasons"]
    assert "actions_only" in got["checkout-bot"]["reasons"]


def test_trusted_events_leave_out_exactly_the_excluded(shop, runtime, storage):
    scope = parse_scope({"site": shop, **RANGE})
    bind = Context(storage, scope, runtime.trust, runtime.trust_sets.verdicts(shop, scope.start_ts, scope.end_ts).set_id).bind()
    trusted = {r[0] for r in storage.query(f"SELECT DISTINCT vid FROM ({_sql.events(True)})", bind).rows}
    everyone = {r[0] for r in storage.query(f"SELECT DISTINCT vid FROM ({_sql.events(False)})", bind).rows}
    assert everyone - trusted == BAD
    assert storage.scalar("SELECT count() FROM trust_sets WHERE site = {site:String} AND set_id = {tt_set:UInt64}", bind) == len(BAD)


def test_excluded_breakdown_by_reason(shop, runtime):
    report = execute(runtime, REPORTS["excluded"], {"site": shop, **RANGE})
    got = {row["reason"]: row["visitors"] for row in report["by_reason"]}
    assert got["bot_user_agent"] == 1 and got["webdriver"] == 1 and got["click_without_view"] == 1
    assert got["fast_click"] == 1 and got["actions_only"] == 1
    assert "coupon_shared" not in got and "cookie_churn_ip" not in got


def test_an_unregistered_code_used_that_widely_is_shared(shop, journeys, scores):
    journeys(shop, {f"leak{i}": [("pageview", "/", 9000 + i), ("purchase", (f"l{i}", 80.0), 9030 + i, {"coupon": "VIP50"})] for i in range(10)})
    got = scores(shop)
    assert all("coupon_shared" in got[f"leak{i}"]["reasons"] for i in range(10))
    assert all("coupon_shared" not in got[f"h{i}"]["reasons"] for i in range(0, 30, 3))  # WELCOME5 is public


def test_overview_report_excludes_flagged_visitors(shop, client, marketer_token):
    trusted = client.get("/api/reports/overview", params={"site": shop, **RANGE}, headers=auth(marketer_token)).json()
    everyone = client.get("/api/reports/overview", params={"site": shop, **RANGE, "traffic": "all"}, headers=auth(marketer_token)).json()
    assert trusted["visitors"] == 30 and everyone["visitors"] == 35
    assert trusted["excluded_visitors"] == 5


def test_trust_listing_matches_the_exclusion(shop, client, fraud_token):
    body = client.get("/api/trust/visitors", params={"site": shop, **RANGE}, headers=auth(fraud_token)).json()
    assert body["total"] == len(BAD) and {r["vid"] for r in body["rows"]} == BAD
    scores = [r["score"] for r in body["rows"]]
    assert scores == sorted(scores)
    networks = client.get("/api/trust/networks", params={"site": shop, **RANGE}, headers=auth(fraud_token)).json()["rows"]
    assert "192.0.2.0/24" not in {n["ip_prefix"] for n in networks}  # the office stays out of it
