"""On a real `tracker serve` with its default trust settings: a bot that arrives now leaves
trusted traffic within 60 s by the background evaluation alone, and `trust_as_of` advances."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import httpx2 as httpx
import orjson

from tests.conftest import BOT_UA, BROWSER_UA

SITE = "liveshop"
LIMIT_SECONDS = 60  # CONTRACT §3: trust_as_of lags the newest accepted event by at most 60 s


def send(server, ua: str, paths: list[str]) -> None:
    """One visitor (one request, so one cookie-less id) viewing `paths`."""
    events = [{"type": "pageview", "id": uuid.uuid4().hex, "url": f"https://shop.example{p}"} for p in paths]
    r = httpx.post(server.url + "/api/collect", content=orjson.dumps({"site": SITE, "events": events}),
                   headers={"Content-Type": "text/plain", "User-Agent": ua}, timeout=10)
    assert r.status_code == 202 and r.json()["accepted"] == len(paths), r.text


def overview(server) -> dict:
    today = datetime.now(UTC).date().isoformat()
    r = server.api("GET", "/api/reports/overview", params={"site": SITE, "from": today, "to": today})
    assert r.status_code == 200, r.text
    return r.json()


def stamp(answer: dict) -> datetime:
    return datetime.fromisoformat(answer["trust_as_of"].replace("Z", "+00:00"))


def test_a_bot_leaves_trusted_traffic_within_a_minute(tracker_server):
    tracker_server.add_site(SITE, "https://shop.example")
    for _ in range(3):
        send(tracker_server, BROWSER_UA, ["/", "/c/shoes"])
    deadline = time.monotonic() + LIMIT_SECONDS
    while (first := overview(tracker_server))["visitors"] < 3 and time.monotonic() < deadline:
        time.sleep(0.5)  # the humans' events are still in the spool
    assert (first["visitors"], first["excluded_visitors"]) == (3, 0)

    sent = datetime.now(UTC)
    for _ in range(2):
        send(tracker_server, BOT_UA, ["/", "/p/1", "/p/2"])
    while True:
        got = overview(tracker_server)
        waited = (datetime.now(UTC) - sent).total_seconds()
        if got["excluded_visitors"] == 2 or waited > LIMIT_SECONDS + 10:
            break
        assert got["visitors"] in (3, 4, 5)  # the bots count until evaluated, never anyone else
        time.sleep(0.5)
    assert (got["visitors"], got["excluded_visitors"]) == (3, 2), got
    assert waited <= LIMIT_SECONDS
    assert stamp(got) > stamp(first) and stamp(got) >= sent  # evaluated on every event up to the bots'
    assert (datetime.now(UTC) - stamp(got)).total_seconds() <= LIMIT_SECONDS
