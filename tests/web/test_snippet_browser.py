"""The snippet in headless Chromium against a real `tracker serve`: assertions are on what the
server stored, read back from its data dir after it stopped."""

from __future__ import annotations

import json

import pytest

from tests.support.servers import STUB, snippet_tag

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SITE = "shop"
FLUSH_WAIT_MS = 1600  # the snippet batches for one second


def shop_page(server, body: str = "", head: str = "", site: str = SITE, **tag) -> str:
    return f"<!doctype html><html><head><meta charset=utf-8>{head}{snippet_tag(server, site, **tag)}</head><body>{body}</body></html>"


def test_pageviews_on_load_and_spa_navigation_with_cross_origin_cookie(tracker_server, shop, browser_context):
    """Shop on www.shop.localhost, tracker on t.shop.localhost: CORS with credentials lets the
    page read the answers, and the first-party `_tid` cookie ties every event to one signed id."""
    tracker_server.add_site(SITE, shop.origin())
    shop.put("spa.html", shop_page(tracker_server, "<h1>SPA</h1>"))
    page = browser_context.new_page()
    page.goto(shop.url("spa.html"))
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.evaluate("history.pushState({}, '', '/spa/next?x=1')")
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.evaluate("history.back()")
    page.wait_for_timeout(FLUSH_WAIT_MS)
    # CORS: a credentialed text/plain POST from the shop's origin is readable by the page.
    answer = page.evaluate(
        """async (api) => {
            const r = await fetch(api + '/api/collect', {method: 'POST', credentials: 'include',
                headers: {'Content-Type': 'text/plain'}, body: JSON.stringify({site: 'shop', events: []})});
            return {status: r.status, body: await r.json()};
        }""",
        f"http://t.shop.localhost:{tracker_server.port}",
    )
    cookies = {c["name"]: c for c in browser_context.cookies(f"http://t.shop.localhost:{tracker_server.port}")}
    page.close()

    assert answer == {"status": 202, "body": {"accepted": 0, "rejected": []}}
    assert cookies["_tid"]["httpOnly"] and cookies["_tid"]["sameSite"] == "Lax"
    events = tracker_server.events(SITE)
    assert [(e["type"], e["path"]) for e in events] == [("pageview", "/spa.html"), ("pageview", "/spa/next"), ("pageview", "/spa.html")]
    assert {e["vid"] for e in events} == {cookies["_tid"]["value"].split(".")[0]}
    assert all(e["vid_signed"] == 1 and e["id_source"] == "cookie" and e["has_origin"] == 1 for e in events)
    assert events[1]["ref"].endswith("/spa.html") and events[2]["ref"].endswith("/spa/next?x=1")
    assert len({e["sid"] for e in events}) == 1 and events[0]["sid"]
    assert {e["env_webdriver"] for e in events} == {1}  # Playwright drives Chromium: navigator.webdriver


def test_a_fragment_change_alone_is_no_pageview(tracker_server, shop, browser_context):
    """Clicking an in-page #anchor, setting location.hash or pushing a URL that differs only in
    its fragment is the same page (CONTRACT §7); a new path is a new pageview, whatever fragment
    it carries."""
    tracker_server.add_site(SITE, shop.origin())
    shop.put("frag.html", shop_page(tracker_server, "<a id=jump href='#reviews'>reviews</a><div style='height:3000px'></div><h2 id=reviews>Reviews</h2>"))
    page = browser_context.new_page()
    page.goto(shop.url("frag.html"))
    page.click("#jump")
    page.evaluate("location.hash = 'specs'")
    page.evaluate("history.pushState({}, '', '#size')")
    page.evaluate("history.pushState({}, '', '/frag/next#top')")  # a new path: a pageview
    page.evaluate("history.pushState({}, '', '/frag/next#bottom')")
    page.go_back()  # back to /frag/next#top: the same page
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.close()
    events = tracker_server.events(SITE)
    assert [(e["type"], e["path"]) for e in events] == [("pageview", "/frag.html"), ("pageview", "/frag/next")]


def test_promo_view_needs_half_visible_for_one_second_and_click_counts(tracker_server, shop, browser_context):
    tracker_server.add_site(SITE, shop.origin())
    spacer = "<div style='height:1500px'>top</div>"
    shop.put(
        "promos.html",
        shop_page(
            tracker_server,
            spacer
            + "<a id=slow href='#' data-promo-id='SLOW' data-promo-name='Seen' data-promo-creative='c1' data-promo-slot='mid' "
            "style='display:block;height:200px;background:#cfc'>promo seen</a>"
            + spacer
            + "<div id=fast data-promo-id='FAST' style='height:200px;background:#fcc'>promo scrolled past</div>"
            + spacer,
        ),
    )
    page = browser_context.new_page()
    page.goto(shop.url("promos.html"))
    page.wait_for_timeout(300)
    # Timed inside the page, so a slow test machine cannot stretch the 200 ms.
    page.evaluate(
        """async () => {
            const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
            document.getElementById('fast').scrollIntoView({block: 'center'});  // FAST: ~200 ms in view
            await sleep(200);
            window.scrollTo(0, 0);
            document.getElementById('slow').scrollIntoView({block: 'center'});  // SLOW: 1.4 s in view,
            await sleep(1400);
            window.scrollTo(0, 0);                                               // away, and back:
            await sleep(200);
            document.getElementById('slow').scrollIntoView({block: 'center'});  // still one view
            await sleep(1300);
        }"""
    )
    page.click("#slow")
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.close()

    events = tracker_server.events(SITE)
    promo_events = [(e["type"], e["promo_id"]) for e in events if e["type"] != "pageview"]
    assert sorted(promo_events) == [("promo_click", "SLOW"), ("promo_view", "SLOW")]
    view = next(e for e in events if e["type"] == "promo_view")
    assert view["promo_variant"] == ""  # no assignment was asked for


def test_purchase_answered_503_is_stored_once_after_next_page_load(tracker_server, shop, browser_context):
    """The first attempt meets 503 + Retry-After (the network answers for the server); the
    purchase waits in localStorage and the next page load delivers it with its original id."""
    tracker_server.add_site(SITE, shop.origin())
    shop.put(
        "thanks.html",
        shop_page(tracker_server, "<p>thanks</p><script>tracker('purchase', {id: 'ORD-1', revenue: 42.5, currency: 'EUR', coupon: 'spring10'})</script>"),
    )
    shop.put("home.html", shop_page(tracker_server, "<p>home</p>"))
    refused = []

    def refuse_purchases(route):
        body = route.request.post_data or ""
        if '"purchase"' in body and not refused:
            refused.append(json.loads(body))
            origin = route.request.headers.get("origin", "")
            route.fulfill(
                status=503,
                headers={"Retry-After": "5", "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Content-Type": "application/json"},
                body='{"error": "the event buffer is full; retry later"}',
            )
        else:
            route.continue_()

    page = browser_context.new_page()
    page.route("**/api/collect", refuse_purchases)
    page.goto(shop.url("thanks.html"))
    page.wait_for_timeout(FLUSH_WAIT_MS)
    assert refused, "the purchase was never attempted"
    kept = page.evaluate("JSON.parse(localStorage.getItem('_tid_pending') || '[]')")
    assert [e["order"]["id"] for e in kept] == ["ORD-1"]
    page.goto(shop.url("home.html"))
    page.wait_for_timeout(FLUSH_WAIT_MS)
    assert page.evaluate("localStorage.getItem('_tid_pending')") == "[]"
    page.close()

    purchases = [e for e in tracker_server.events(SITE) if e["type"] == "purchase"]
    original_id = next(e["id"] for e in refused[0]["events"] if e["type"] == "purchase")
    assert [(p["event_id"], p["order_id"], p["revenue"], p["coupon"]) for p in purchases] == [(original_id, "ORD-1", 42.5, "SPRING10")]


def test_purchase_whose_answer_was_lost_is_stored_once(tracker_server, shop, browser_context):
    """The server stored the purchase but the page saw a 503: the retry carries the same event
    id, so reports (FINAL) and even the raw table count it once after the merge."""
    tracker_server.add_site(SITE, shop.origin())
    shop.put("thanks.html", shop_page(tracker_server, "<script>tracker('purchase', {id: 'ORD-2', revenue: 10, currency: 'EUR'})</script>"))
    shop.put("home.html", shop_page(tracker_server))
    lost = []

    def lose_answer(route):
        # Playwright's own fetch does not resolve *.localhost the way Chromium does.
        response = route.fetch(url=route.request.url.replace("t.shop.localhost", "127.0.0.1"))
        if '"purchase"' in (route.request.post_data or "") and not lost:
            lost.append(response.status)
            route.fulfill(response=response, status=503, headers={**response.headers, "retry-after": "5"})
        else:
            route.fulfill(response=response)

    page = browser_context.new_page()
    page.route("**/api/collect", lose_answer)
    page.goto(shop.url("thanks.html"))
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.goto(shop.url("home.html"))
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.close()

    assert lost == [202]
    assert [e["order_id"] for e in tracker_server.events(SITE) if e["type"] == "purchase"] == ["ORD-2"]
    raw = tracker_server.stored("SELECT count() AS n FROM events WHERE site = {site:String} AND type = 'purchase'", site=SITE)
    assert raw[0]["n"] in (1, 2)  # two copies until ClickHouse merges them; FINAL above says one


def test_gpc_means_nothing_is_sent_or_stored(tracker_server, shop, chromium):
    tracker_server.add_site(SITE, shop.origin())
    shop.put(
        "gpc.html",
        shop_page(
            tracker_server,
            "<div id=p data-promo-id='P' style='height:300px'>promo</div>"
            "<script>tracker('event', 'add_to_cart', {sku: 'A'}); tracker('purchase', {id: 'O', revenue: 5});"
            "tracker('assign', 'P', function (v) { window.variant = v; });</script>",
        ),
    )
    context = chromium.new_context(extra_http_headers={"Sec-GPC": "1"})
    context.add_init_script("Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})")
    sent = []
    context.on("request", lambda r: sent.append(r.url) if "/api/" in r.url else None)
    page = context.new_page()
    page.goto(shop.url("gpc.html"))
    page.wait_for_timeout(1300)
    page.click("#p")
    page.wait_for_timeout(FLUSH_WAIT_MS)
    variant = page.evaluate("window.variant")
    page.close()
    context.close()

    assert sent == []
    assert variant == "exposed"
    assert tracker_server.events(SITE) == []


def test_calls_queued_before_the_script_loads_arrive_in_order(tracker_server, shop, browser_context):
    tracker_server.add_site(SITE, shop.origin())
    src = f"http://t.shop.localhost:{tracker_server.port}/snippet.js"
    shop.put(
        "queue.html",
        "<!doctype html><html><head>" + STUB + "<script>"
        "tracker('event', 'custom', {name: 'early', step: 1});"
        "tracker('event', 'add_to_cart', {sku: 'SH-1', price: 10});"
        "tracker('event', 'checkout', {items: 1});"
        # the snippet arrives late, as on a slow network
        f"setTimeout(() => {{ const s = document.createElement('script'); s.src = '{src}'; s.dataset.site = '{SITE}';"
        " document.head.appendChild(s); }, 500);"
        "</script></head><body>queue</body></html>",
    )
    bodies = []
    page = browser_context.new_page()
    page.on("request", lambda r: bodies.append(json.loads(r.post_data)) if r.url.endswith("/api/collect") else None)
    page.goto(shop.url("queue.html"))
    page.wait_for_function("window.tracker && window.tracker.loaded === 1")
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.close()

    # Sent in call order (after the automatic pageview), in one batch ...
    assert [[e["type"] for e in b["events"]] for b in bodies] == [["pageview", "custom", "add_to_cart", "checkout"]]
    # ... and stored (rows share one server time, so compare as a set).
    events = tracker_server.stored("SELECT type, name, props FROM events FINAL WHERE site = {site:String}", site=SITE)
    stored = {e["type"]: e for e in events}
    assert sorted(stored) == ["add_to_cart", "checkout", "custom", "pageview"] and len(events) == 4
    assert stored["custom"]["name"] == "early" and stored["custom"]["props"] == {"step": "1"}
    assert stored["add_to_cart"]["props"] == {"sku": "SH-1", "price": "10"}
    assert stored["checkout"]["props"] == {"items": "1"}


def test_unregistered_origin_stores_nothing(tracker_server, shop, browser_context):
    tracker_server.add_site(SITE, shop.origin())  # www.shop.localhost only
    shop.put("page.html", shop_page(tracker_server, "<script>tracker('purchase', {id: 'X', revenue: 1})</script>"))
    page = browser_context.new_page()
    page.goto(shop.url("page.html", host="evil.localhost"))
    page.wait_for_timeout(FLUSH_WAIT_MS + 500)
    page.close()
    ready = tracker_server.api("GET", "/readyz").json()

    assert ready["ingest"]["dropped_requests"].get("origin_not_allowed", 0) >= 1
    assert tracker_server.events(SITE) == []


def test_holdout_slot_reports_holdout_view_and_exposed_reports_exposed(tracker_server, shop, browser_context):
    tracker_server.add_site(SITE, shop.origin())
    for promo, pct in (("ALL-OUT", 100), ("ALL-IN", 0)):
        tracker_server.api("POST", "/api/admin/promos", json={"site": SITE, "promo_id": promo, "holdout_pct": pct}).raise_for_status()
    shop.put(
        "assign.html",
        shop_page(
            tracker_server,
            "<div id=out data-promo-id='ALL-OUT' style='height:150px'><span class=creative>promo</span></div>"
            "<div id=in data-promo-id='ALL-IN' style='height:150px'><span class=creative>promo</span></div>"
            "<script>window.variants = {};"
            "['ALL-OUT', 'ALL-IN'].forEach(id => tracker('assign', id, v => { window.variants[id] = v;"
            " if (v === 'holdout') document.querySelector(`[data-promo-id=${id}] .creative`).style.visibility = 'hidden'; }));</script>",
        ),
    )
    page = browser_context.new_page()
    page.goto(shop.url("assign.html"))
    page.wait_for_timeout(1400)
    page.click("#out")
    page.click("#in")
    page.wait_for_timeout(FLUSH_WAIT_MS)
    variants = page.evaluate("window.variants")
    page.close()

    assert variants == {"ALL-OUT": "holdout", "ALL-IN": "exposed"}
    events = tracker_server.events(SITE)
    promo = sorted((e["type"], e["promo_id"], e["promo_variant"]) for e in events if e["promo_id"])
    assert promo == [("promo_click", "ALL-IN", "exposed"), ("promo_view", "ALL-IN", "exposed"), ("promo_view", "ALL-OUT", "holdout")]
    assert len({e["vid"] for e in events}) == 1  # the assignment and the events share one visitor id


def test_dnt_data_api_and_optout(tracker_server, shop, chromium):
    """DNT is honoured unless the tag says data-dnt="false"; data-api sends to another host
    than the one the script came from; after tracker('optout') nothing more is sent."""
    from tracker.web.routes import SNIPPET

    tracker_server.add_site(SITE, shop.origin())
    api = f"http://t.shop.localhost:{tracker_server.port}"
    shop.put("snippet.js", SNIPPET.read_text())  # a copy on the shop's own host (a CDN, say)
    local_tag = STUB + f'<script defer src="/snippet.js" data-site="{SITE}" data-api="{api}"%s></script>'
    shop.put("dnt.html", "<!doctype html><head>" + local_tag % "" + "</head><body>dnt</body>")
    shop.put("dnt-off.html", "<!doctype html><head>" + local_tag % ' data-dnt="false"' + "</head><body>dnt off</body>")
    shop.put("opt.html", shop_page(tracker_server, "<p>opt</p>"))

    dnt = chromium.new_context()
    dnt.add_init_script("Object.defineProperty(Navigator.prototype, 'doNotTrack', {get: () => '1'})")
    sent = []
    dnt.on("request", lambda r: sent.append(r.url) if "/api/" in r.url else None)
    page = dnt.new_page()
    page.goto(shop.url("dnt.html"))
    page.wait_for_timeout(FLUSH_WAIT_MS)
    assert sent == []
    page.goto(shop.url("dnt-off.html"))
    page.wait_for_timeout(FLUSH_WAIT_MS)
    assert sent == [api + "/api/collect"]
    page.close()
    dnt.close()

    opt = chromium.new_context()
    page = opt.new_page()
    page.goto(shop.url("opt.html"))
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.evaluate("tracker('optout')")
    page.wait_for_timeout(300)
    page.evaluate("history.pushState({}, '', '/after-optout'); tracker('event', 'custom', {name: 'after'})")
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.goto(shop.url("opt.html"))
    page.evaluate("tracker('purchase', {id: 'AFTER', revenue: 1})")
    page.wait_for_timeout(FLUSH_WAIT_MS)
    cookies = {c["name"] for c in opt.cookies(api)}
    page.close()
    opt.close()

    assert "_tid_optout" in cookies and "_tid" not in cookies
    stored = [(e["type"], e["path"]) for e in tracker_server.events(SITE)]
    assert sorted(stored) == [("pageview", "/dnt-off.html"), ("pageview", "/opt.html")]


def test_send_beacon_carries_events_when_fetch_fails(tracker_server, shop, chromium):
    tracker_server.add_site(SITE, shop.origin())
    shop.put("beacon.html", shop_page(tracker_server, "<script>tracker('event', 'custom', {name: 'via_beacon'})</script>"))
    context = chromium.new_context()
    context.add_init_script("window.fetch = () => Promise.reject(new TypeError('Failed to fetch'))")
    beacons = []
    context.on("request", lambda r: beacons.append(r.resource_type) if r.url.endswith("/api/collect") else None)
    page = context.new_page()
    page.goto(shop.url("beacon.html"))
    page.wait_for_timeout(FLUSH_WAIT_MS)
    page.close()
    context.close()

    assert beacons == ["ping"]  # Chromium's resource type for navigator.sendBeacon
    assert sorted((e["type"], e["name"]) for e in tracker_server.events(SITE)) == [("custom", "via_beacon"), ("pageview", "")]
