"""Rate limits on both sides of each limit: just under the burst accepted, over it 429 with
`Retry-After` and a JSON error. The session app runs with limits off, so each test hosts the
same app code on a view of the shared runtime that differs only by its limiter (set after
startup, because the lifespan attaches the runtime it was given)."""

from __future__ import annotations

import copy
import uuid
from dataclasses import replace

import orjson
import pytest
from starlette.testclient import TestClient

from tests.conftest import auth
from tracker.app import create_app
from tracker.ratelimit import Buckets, RateLimiter


@pytest.fixture
def limited(settings, runtime):
    """limited(**rates) -> a TestClient whose app enforces these rates."""
    clients = []

    def make(**rates) -> TestClient:
        limited_settings = settings.replace(**rates)
        app = create_app(limited_settings, runtime=runtime)
        client = TestClient(app, base_url="http://testserver")
        client.__enter__()
        limiter = RateLimiter(limited_settings)
        pipeline = copy.copy(runtime.pipeline)  # the same steps and counters, checking this limiter
        pipeline.limiter = limiter
        app.state.runtime = replace(runtime, settings=limited_settings, rate_limiter=limiter, pipeline=pipeline)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _collect(client, site: str):
    body = orjson.dumps({"site": site, "events": [{"type": "pageview", "id": uuid.uuid4().hex, "url": "https://shop.example/"}]})
    return client.post("/api/collect", content=body, headers={"Content-Type": "text/plain"})


def _assert_429(response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert set(response.json()) == {"error"}


def _count_until_429(send, limit: int) -> int:
    for i in range(limit):
        r = send()
        if r.status_code == 429:
            _assert_429(r)
            return i
        assert r.status_code < 400, r.text
    raise AssertionError(f"no 429 within {limit} requests")


def test_collect_per_prefix(limited, new_site):
    client = limited(rate_collect_per_prefix=5, rate_collect_per_site=0)  # burst 10
    sites = [new_site(), new_site()]
    for i in range(10):  # just under the burst, spread over two sites: all accepted
        assert _collect(client, sites[i % 2]).status_code == 202
    # Over it: the prefix's bucket is shared by both sites (refill of 5/s allows a few more).
    allowed = _count_until_429(lambda: _collect(client, sites[1]), 10)
    assert allowed <= 5


def test_collect_per_site(limited, new_site):
    client = limited(rate_collect_per_prefix=0, rate_collect_per_site=5)  # burst 10 per site
    busy, quiet = new_site(), new_site()
    for _ in range(10):
        assert _collect(client, busy).status_code == 202
    allowed = _count_until_429(lambda: _collect(client, busy), 10)
    assert allowed <= 5
    assert _collect(client, quiet).status_code == 202  # another site has its own bucket


def test_reports_per_token(limited, runtime, new_site):
    client = limited(rate_reports_per_token=3)  # burst 6
    site = new_site()
    token, _ = runtime.tokens.create(role="marketer", name="rate-limited", sites=[site])
    other, _ = runtime.tokens.create(role="marketer", name="rate-other", sites=[site])
    # The limit is taken before the report's parameters are read: a request the report then
    # refuses (400, no query run) still counts, which keeps this test independent of query time.
    send = lambda tok=token: client.get("/api/reports/overview", params={"site": site, "traffic": "nope"}, headers=auth(tok))  # noqa: E731
    for _ in range(6):
        assert send().status_code == 400
    for allowed in range(10):
        r = send()
        if r.status_code == 429:
            break
        assert r.status_code == 400
    _assert_429(r)
    assert allowed <= 3
    assert send(other).status_code == 400  # per token, not global: the other token is not limited
    r = client.get("/api/reports/overview", params={"site": site, "from": "2026-03-01", "to": "2026-03-01"}, headers=auth(other))
    assert r.status_code == 200


def test_forget_me_per_prefix(limited):
    client = limited(rate_forget_me_per_minute=2)  # burst 2, one more every 30 s
    assert client.post("/api/forget-me").status_code == 200
    assert client.post("/api/forget-me").status_code == 200
    _assert_429(client.post("/api/forget-me"))


def test_buckets_refill_and_stay_bounded():
    buckets = Buckets(rate=1000.0, burst=2.0, max_keys=100)
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    wait = buckets.take("a")
    assert 0 < wait <= 0.001 + 1e-9
    for i in range(1000):  # an attacker cycling through addresses
        buckets.take(f"k{i}")
    assert len(buckets._buckets) == 100
    assert Buckets(rate=0, burst=0).take("x") == 0  # 0 disables
