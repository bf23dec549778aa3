"""`campaigns` on real chDB: sessions cut at gaps over 30 minutes, credited to their first touch.

  a  lands from the March newsletter (email), views /p, buys 40.00; two hours later comes back
     directly and buys 10.00 -> one email session, one direct session
  b  lands from google cpc "spring", a pageview exactly 30 minutes later (same session), then
     one 31 minutes after that (a new, direct session) where it buys 15.00
  c  two newsletter sessions a day apart; buys 20.00 in the second (the purchase sent twice)
  bot  a crawler landing from a "spam" campaign (only with traffic=all)
"""

from __future__ import annotations

import pytest

from tests.conftest import BOT_UA, auth
from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute

RANGE = {"from": "2026-03-01", "to": "2026-03-31"}
EMAIL = {"query": "?utm_source=Newsletter&utm_medium=Email&utm_campaign=march"}
CPC = {"query": "?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=abc"}


@pytest.fixture
def site(journeys, new_site):
    name = journeys(new_site(), {
        "a": [("pageview", "/", 0, EMAIL), ("pageview", "/p", 60), ("purchase", ("oa1", 40.0), 120),
              ("pageview", "/", 7200), ("purchase", ("oa2", 10.0), 7260)],
        "b": [("pageview", "/", 0, CPC), ("pageview", "/p", 1800), ("pageview", "/q", 1800 + 1860),
              ("purchase", ("ob1", 15.0), 1800 + 1900)],
        "c": [("pageview", "/", 0, EMAIL), ("pageview", "/p", 30), ("pageview", "/", 86400, EMAIL),
              ("purchase", ("oc1", 20.0), 86460, {"id": "c-buy"}), ("purchase", ("oc1", 20.0), 86460, {"id": "c-buy"})],
    })
    journeys(name, {"bot": [("pageview", "/", 0, {"query": "?utm_source=spam&utm_medium=referral&utm_campaign=x"})]}, ua=BOT_UA)
    return name


def rows(runtime, site, **query):
    result = execute(runtime, REPORTS["campaigns"], {"site": site, **RANGE, **query})
    return {(r["utm_source"], r["utm_medium"], r["utm_campaign"]): r for r in result["rows"]}


def test_sessions_by_first_touch(runtime, site):
    got = rows(runtime, site)
    assert set(got) == {("newsletter", "email", "march"), ("google", "cpc", "spring"), ("", "", "")}
    email = got[("newsletter", "email", "march")]
    assert {k: email[k] for k in ("visitors", "sessions", "pageviews", "conversions", "converting_sessions", "revenue")} == {
        "visitors": 2, "sessions": 3, "pageviews": 5, "conversions": 2, "converting_sessions": 2, "revenue": 60.0}
    assert email["conversion_rate"] == pytest.approx(2 / 3) and email["aov"] == 30.0
    cpc = got[("google", "cpc", "spring")]
    assert (cpc["visitors"], cpc["sessions"], cpc["pageviews"], cpc["conversions"], cpc["revenue"], cpc["conversion_rate"]) == (1, 1, 2, 0, 0.0, 0.0)
    direct = got[("", "", "")]
    assert (direct["visitors"], direct["sessions"], direct["pageviews"], direct["conversions"], direct["revenue"]) == (2, 2, 2, 2, 25.0)
    assert direct["conversion_rate"] == 1.0


def test_traffic_and_range(runtime, site):
    assert ("spam", "referral", "x") in rows(runtime, site, traffic="all")
    # Only T0's day: c's second newsletter session (the next day) is out.
    email = rows(runtime, site, to="2026-03-02")[("newsletter", "email", "march")]
    assert (email["sessions"], email["conversions"], email["revenue"]) == (2, 1, 40.0)


def test_http(client, marketer_token, site):
    r = client.get("/api/reports/campaigns", params={"site": site, **RANGE}, headers=auth(marketer_token))
    assert r.status_code == 200
    first = r.json()["rows"][0]
    assert (first["utm_medium"], first["sessions"]) == ("email", 3)
    for field in ("utm_source", "utm_medium", "utm_campaign", "visitors", "sessions", "pageviews", "conversions", "revenue", "conversion_rate"):
        assert field in first
    bad = client.get("/api/reports/campaigns", params={"site": site, "from": "'; DROP TABLE events --"}, headers=auth(marketer_token))
    assert bad.status_code == 400 and "from must be" in bad.json()["error"]
    # A date with SQL after it is read as the date: the same scoped answer, nothing injected.
    tail = client.get("/api/reports/campaigns", params={"site": site, **RANGE, "from": "2026-03-01' OR 1=1 --"}, headers=auth(marketer_token))
    assert tail.status_code in (200, 400)
    if tail.status_code == 200:
        assert tail.json()["rows"] == r.json()["rows"]
