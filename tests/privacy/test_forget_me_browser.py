"""forget-me from a real headless Chromium session: the shop page asks the tracker (another
origin of the same site) to forget its visitor; the `_tid` cookie goes and so does every row."""

from __future__ import annotations

import pytest

from tests.support.servers import snippet_tag

pytestmark = pytest.mark.browser

SITE = "shop"


def test_forget_me_from_the_browser(tracker_server, shop, browser_context):
    tracker_server.add_site(SITE, shop.origin())
    shop.put("page.html", f"<!doctype html><html><head><meta charset=utf-8>{snippet_tag(tracker_server, SITE)}</head><body><h1>Shop</h1></body></html>")
    api = f"http://t.shop.localhost:{tracker_server.port}"
    page = browser_context.new_page()
    page.goto(shop.url("page.html"))
    page.wait_for_timeout(1600)  # the snippet sends its batch after one second
    cookie = {c["name"]: c for c in browser_context.cookies(api)}["_tid"]["value"]
    vid = cookie.split(".")[0]
    answer = page.evaluate(
        """async (api) => {
            const r = await fetch(api + '/api/forget-me', {method: 'POST', credentials: 'include'});
            return {status: r.status, body: await r.json()};
        }""",
        api,
    )
    left = {c["name"] for c in browser_context.cookies(api)}
    page.close()

    assert answer["status"] == 200 and answer["body"]["forgotten"] is True and answer["body"]["erased"] >= 1, answer
    assert "_tid" not in left
    rows = tracker_server.stored("SELECT count() AS n FROM events WHERE vid = {vid:String}", vid=vid)
    assert rows == [{"n": 0}]
    ledger = tracker_server.stored("SELECT by_token, counts FROM erasures")
    assert len(ledger) == 1 and ledger[0]["by_token"] == "forget-me"
