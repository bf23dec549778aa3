"""`live` on real chDB: events accepted through /api/collect seconds ago show up without any
test-side flush (the runtime's own flusher moves them), older ones do not; figures checked
against the events the test sent."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import orjson
from tests.conftest import BROWSER_UA, auth
from tracker.reports.live import MINUTES, fill_minutes

HEADERS = {"Content-Type": "text/plain", "User-Agent": BROWSER_UA}


def collect(client, site, vid, events):
    body = {"site": site, "events": [{"id": uuid.uuid4().hex, "vid": vid, **e} for e in events]}
    client.cookies.clear()  # each visitor its own browser: no shared _tid cookie
    r = client.post("/api/collect", content=orjson.dumps(body), headers=HEADERS)
    assert r.status_code == 202 and r.json()["accepted"] == len(events), r.text


def live(client, token, site, **params):
    today = datetime.now(UTC).date()
    query = {"site": site, "from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat(), "traffic": "all", **params}
    r = client.get("/api/reports/live", params=query, headers=auth(token))
    assert r.status_code == 200, r.text
    return r.json()


def test_events_accepted_seconds_ago_are_live(client, marketer_token, new_site, journeys):
    site = new_site()
    now = datetime.now(UTC)
    # Stored long ago (40 minutes) and just inside the window (20 minutes): only the second counts.
    journeys(site, {"old": [("pageview", "/old", now - timedelta(minutes=40))], "recent": [("pageview", "/recent", now - timedelta(minutes=20))]})
    sent = {
        "a": [{"type": "pageview", "url": "https://shop.example/"}, {"type": "pageview", "url": "https://shop.example/p/1#reviews"}],
        "b": [{"type": "pageview", "url": "https://shop.example/p/1", "ref": "https://news.example/"},
              {"type": "purchase", "url": "https://shop.example/thanks", "order": {"id": "L1", "revenue": 19.9}}],
        "c": [{"type": "pageview", "url": "https://shop.example/?utm_source=newsletter"}],
    }
    for vid, events in sent.items():
        collect(client, site, vid, events)
    accepted = time.monotonic()
    pageviews = sum(e["type"] == "pageview" for es in sent.values() for e in es) + 1  # + recent
    body = live(client, marketer_token, site)
    while body["pageviews"] < pageviews and time.monotonic() - accepted < 10:
        time.sleep(0.2)
        body = live(client, marketer_token, site)
    seconds = time.monotonic() - accepted
    assert body["pageviews"] == pageviews, body
    assert seconds < 5, f"accepted events took {seconds:.1f} s to show live"
    assert (body["visitors"], body["orders"], body["revenue"]) == (4, 1, 19.9)
    viewers = defaultdict(set)
    for vid, events in sent.items():
        for e in events:
            if e["type"] == "pageview":
                viewers[e["url"].split("//", 1)[1].split("/", 1)[1].split("?")[0].split("#")[0]].add(vid)
    want_pages = {"/" + p: len(v) for p, v in viewers.items()} | {"/recent": 1}
    assert {p["path"]: p["visitors"] for p in body["pages"]} == want_pages
    assert len(body["minutes"]) == MINUTES
    assert sum(m["pageviews"] for m in body["minutes"]) == pageviews and sum(m["orders"] for m in body["minutes"]) == 1
    assert body["as_of"].startswith(body["minutes"][-1]["minute"][:-1])  # the window ends in the current minute
    # Filters apply live too: only the newsletter visitor's session.
    narrowed = live(client, marketer_token, site, filter="source:newsletter")
    assert (narrowed["visitors"], narrowed["pageviews"]) == (1, 1)


def test_fill_minutes_zero_fills_the_window():
    first = datetime(2026, 3, 2, 10, 0)
    rows = [{"minute": datetime(2026, 3, 2, 10, 5, tzinfo=UTC), "visitors": 2, "pageviews": 3, "orders": 1, "revenue": 4.5}]
    out = fill_minutes(first, rows)
    assert len(out) == MINUTES and out[0] == {"minute": "2026-03-02T10:00Z", "visitors": 0, "pageviews": 0, "orders": 0, "revenue": 0.0}
    assert out[5] == {"minute": "2026-03-02T10:05Z", "visitors": 2, "pageviews": 3, "orders": 1, "revenue": 4.5}
    assert out[-1]["minute"] == "2026-03-02T10:29Z"


def test_live_needs_a_token(client, new_site):
    assert client.get("/api/reports/live", params={"site": new_site()}).status_code == 401
