"""Click through the /demo shop that `tracker serve` hosts, as a new user would after the
README's first command, and check that the whole journey was stored."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_demo_shop_journey_is_stored(tracker_server, browser_context):
    # Everyone exposed, so the hero click below is a promo click whatever the visitor's bucket.
    tracker_server.api("POST", "/api/admin/promos", json={"site": "demo", "promo_id": "SUMMER", "holdout_pct": 0}).raise_for_status()
    page = browser_context.new_page()
    page.goto(tracker_server.url + "/demo")
    page.wait_for_selector("#hero[data-variant='exposed']")
    page.wait_for_timeout(1300)  # the hero stays in view: one promo_view
    page.click("#hero .creative")
    page.wait_for_url("**/demo/category/shoes")
    page.click("text=Trail runner")
    page.wait_for_url("**/demo/product/SH-101")
    page.click("[data-add-to-cart]")
    page.goto(tracker_server.url + "/demo/cart")
    assert page.text_content("#total") == "$89.00"
    page.click("#to-checkout")
    page.fill("#coupon", "summer20")
    page.click("button[type=submit]")
    page.wait_for_url("**/demo/thank-you**")
    page.wait_for_selector("text=with SUMMER20")
    page.wait_for_timeout(1500)
    sent_panel = page.text_content("#sent-log")
    page.close()

    assert "purchase" in sent_panel
    events = tracker_server.events("demo")
    kinds = [(e["type"], e["path"] if e["type"] == "pageview" else e["promo_id"] or e["order_id"]) for e in events]
    for step in [
        ("pageview", "/demo"),
        ("promo_view", "SUMMER"),
        ("promo_click", "SUMMER"),
        ("pageview", "/demo/category/shoes"),
        ("pageview", "/demo/product/SH-101"),
        ("pageview", "/demo/cart"),
        ("pageview", "/demo/checkout"),
        ("pageview", "/demo/thank-you"),
    ]:
        assert step in kinds, step
    assert [e["type"] for e in events].count("add_to_cart") == 1 and [e["type"] for e in events].count("checkout") == 1
    (purchase,) = [e for e in events if e["type"] == "purchase"]
    assert purchase["revenue"] == pytest.approx(71.2) and purchase["coupon"] == "SUMMER20" and purchase["order_id"].startswith("ORD-")
    assert {e["promo_variant"] for e in events if e["promo_id"] == "SUMMER"} == {"exposed"}
    assert len({e["vid"] for e in events}) == 1
