"""Property-based fuzzing of `POST /api/collect`: bodies and headers from hypothesis (events
that are valid, nearly valid and junk; hostile headers), against the real app and real chDB.

Never a 5xx, always a JSON answer; and every event a 202 accepted is stored once and read
by every report afterwards (each report answers, and overview counts exactly the stored
pageviews of the site).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import auth, flush
from tracker.reports.routes import REPORTS
from tracker.vocabulary import EVENT_TYPES

JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), st.text(max_size=40))
JSON = st.recursive(JSON_LEAF, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)
URLS = st.sampled_from(["https://shop.example/", "https://shop.example/p?utm_source=news&email=a@b.c", "http://x/", "ftp://x", "", "/rel",
                        "https://shop.example/" + "a" * 3000])


@st.composite
def event(draw) -> dict:
    kind = draw(st.sampled_from(EVENT_TYPES))
    e = {"type": kind, "id": draw(st.one_of(st.just(uuid.uuid4().hex), st.text(max_size=80))), "url": draw(URLS)}
    if kind in ("promo_view", "promo_click"):
        e["promo"] = draw(st.one_of(st.fixed_dictionaries({"id": st.sampled_from(["SUMMER", "x" * 200, ""])}), JSON))
    if kind == "purchase":
        e["order"] = draw(st.one_of(st.fixed_dictionaries({"id": st.text(min_size=1, max_size=20),
                                                           "revenue": st.one_of(st.floats(-1e12, 1e12), st.text(max_size=5))}), JSON))
    if kind == "custom":
        e["name"] = draw(st.text(max_size=300))
    for key in draw(st.sets(st.sampled_from(["ref", "sid", "vid", "props", "env", "ts", "extra"]), max_size=3)):
        e[key] = draw(JSON)
    return e


HEADERS = st.fixed_dictionaries({}, optional={
    "Content-Type": st.sampled_from(["text/plain", "application/json", "application/json; charset=utf-8", "TEXT/PLAIN", "text/html", "", "x" * 300]),
    "Origin": st.sampled_from(["https://shop.example", "https://evil.example", "null", "https://shop.example:443/", b"https://\xc3\xa9.example"]),
    "Cookie": st.sampled_from(["_tid=garbage", "_tid=" + "a" * 5000, "_tid_optout=1", "a=b; _tid=v1.x.y"]),
    "DNT": st.sampled_from(["1", "0", "yes"]),
    "Sec-GPC": st.sampled_from(["1", "0"]),
    "X-Forwarded-For": st.sampled_from(["1.2.3.4", "::1, 10.0.0.1", "garbage", "999.1.1.1"]),
    "User-Agent": st.one_of(st.sampled_from(["Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36", "curl/8", ""]),
                            st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=600)),
})


def test_collect_never_fails_and_every_accepted_event_is_in_every_report(client, runtime, new_site, admin_token):
    site = new_site()
    accepted: set[str] = set()

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(
        events=st.lists(st.one_of(event(), JSON), max_size=8),
        site_value=st.one_of(st.just(site), st.text(max_size=70), JSON),
        raw=st.one_of(st.none(), st.binary(max_size=200)),
        headers=HEADERS,
    )
    def check(events, site_value, raw, headers):
        body = raw if raw is not None else json.dumps({"site": site_value, "events": events}).encode()  # json: big ints too
        r = client.post("/api/collect", content=body, headers={"Content-Type": "text/plain", **headers})
        assert r.status_code < 500, f"{r.status_code} {r.text[:300]}"
        assert isinstance(r.json(), dict)
        if r.status_code == 202 and r.json()["accepted"] and raw is None and site_value == site:
            bad = {rej["index"] for rej in r.json()["rejected"]}
            accepted.update(e["id"] for i, e in enumerate(events) if i not in bad and isinstance(e, dict))

    # A known-good batch, so the checks below never run on nothing however hypothesis draws.
    seed = [{"type": "pageview", "id": uuid.uuid4().hex, "url": "https://shop.example/seed"} for _ in range(5)]
    r = client.post("/api/collect", content=json.dumps({"site": site, "events": seed}), headers={"Content-Type": "text/plain"})
    assert r.status_code == 202 and r.json()["accepted"] == 5
    accepted.update(e["id"] for e in seed)
    check()
    flush(runtime)
    stored = {r[0] for r in runtime.storage.query("SELECT event_id FROM events FINAL WHERE site = {s:String}", {"s": site}).rows}
    assert accepted <= stored, f"{len(accepted - stored)} accepted events are not stored"
    pageviews = runtime.storage.scalar("SELECT count() FROM events FINAL WHERE site = {s:String} AND type = 'pageview'", {"s": site})
    today = datetime.now(UTC).date().isoformat()
    for name in REPORTS:
        r = client.get(f"/api/reports/{name}", params={"site": site, "traffic": "all", "to": today, "start": "/", "promo": "SUMMER",
                                                       "steps": json.dumps([{"type": "pageview"}, {"type": "purchase"}])}, headers=auth(admin_token))
        assert r.status_code == 200, f"{name}: {r.status_code} {r.text[:300]}"
        if name == "overview":
            assert r.json()["pageviews"] == pageviews
