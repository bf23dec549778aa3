from tests.conftest import T0, auth


def test_collect_then_stored(client, runtime, new_site):
    from tests.conftest import flush

    site = new_site()
    r = client.post("/api/collect", content=b'{"site":"%s","events":[{"type":"pageview","id":"s1","url":"https://shop.example/"}]}' % site.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 202 and r.json() == {"accepted": 1, "rejected": []}
    flush(runtime)
    assert runtime.storage.scalar("SELECT count() FROM events FINAL WHERE site={s:String}", {"s": site}) == 1


def test_journeys_insert(journeys, runtime, new_site):
    site = journeys(new_site(), {"v1": [("pageview", "/", 0), ("promo_click", "SUMMER", 5), ("purchase", ("o1", 25.5), 60, {"coupon": "save10"})]})
    rows = runtime.storage.dicts("SELECT type, vid, promo_id, order_id, toFloat64(revenue) AS revenue, coupon, ts FROM events FINAL WHERE site={s:String} ORDER BY ts", {"s": site})
    assert [r["type"] for r in rows] == ["pageview", "promo_click", "purchase"]
    assert rows[2]["coupon"] == "SAVE10" and rows[2]["revenue"] == 25.5 and rows[0]["vid"] == "v1"
    assert rows[0]["ts"].replace(tzinfo=None) == T0.replace(tzinfo=None)
