"""The marketers' `excluded` report: counts per reason, never visitor ids."""

from tests.conftest import BOT_UA, auth
from tracker.reports.excluded import shape

HEADLESS_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36"


def test_shape_orders_by_count_then_code():
    assert shape(4, ["webdriver", "headless", "bot_user_agent"], [2, 2, 3]) == [
        {"reason": "bot_user_agent", "visitors": 3, "share": 0.75},
        {"reason": "headless", "visitors": 2, "share": 0.5},
        {"reason": "webdriver", "visitors": 2, "share": 0.5},
    ]
    assert shape(0, [], []) == []


def test_excluded_visitors_by_reason(client, journeys, new_site, marketer_token):
    site = new_site()
    journeys(site, {"human": [("pageview", "/", 0), ("pageview", "/p", 30)]})
    journeys(site, {"crawler": [("pageview", "/", 0)]}, ua=BOT_UA)
    journeys(site, {"robot": [("pageview", "/", 0, {"env": {"webdriver": True}})]}, ua=HEADLESS_UA)
    r = client.get("/api/reports/excluded", params={"site": site, "from": "2026-03-01", "to": "2026-03-03"}, headers=auth(marketer_token))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["excluded_visitors"] == 2
    reasons = {row["reason"]: row["visitors"] for row in body["by_reason"]}
    assert reasons == {"bot_user_agent": 1, "headless": 1, "webdriver": 1}
    text = r.text
    assert "crawler" not in text and "robot" not in text  # counts only, never visitor ids
    overview = client.get("/api/reports/overview", params={"site": site, "from": "2026-03-01", "to": "2026-03-03"}, headers=auth(marketer_token)).json()
    assert overview["excluded_visitors"] == body["excluded_visitors"]
