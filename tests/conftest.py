"""Shared fixtures: one real chDB store per test session, the real app over HTTP, tokens,
and `journeys` — readable per-visitor event lists inserted through ingest's own row builder.

chDB opens one data dir per process, so every test shares one `Runtime`; tests isolate
themselves by using their own site ids (`new_site`). ClickHouse server fixtures (one node, a
two-shard cluster) come from tests/support/clickhouse.py; `--storage server` runs the shared runtime on a
server node.
"""

from __future__ import annotations

import itertools
import zlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from tracker.app import create_app
from tracker.config import Settings
from tracker.ingest.rows import Context, encode_row
from tracker.ingest.schema import parse_event
from tracker.runtime import Runtime
from tests.support.clickhouse import clickhouse_cluster, clickhouse_node, cluster_runtime, server_runtime, settings_for  # noqa: F401

# Server and browser fixtures (tracker_server, shop, chromium, browser_context) for every directory.
pytest_plugins = ["tests.support.browser"]

BROWSER_UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)
_site_counter = itertools.count(1)


def pytest_addoption(parser):
    parser.addoption("--storage", choices=("embedded", "server"), default="embedded",
                     help="what the shared runtime stores into: the embedded engine (default) or a ClickHouse server node (tests/support/clickhouse.py)")


@pytest.fixture(scope="session")
def settings(request, tmp_path_factory) -> Settings:
    data = tmp_path_factory.mktemp("tracker-data")
    if request.config.getoption("--storage") == "server":
        # A database of its own: the node's `tracker` database belongs to `server_runtime`.
        return settings_for(data, dsn=request.getfixturevalue("clickhouse_node").dsn, database="suite")
    return settings_for(data)


@pytest.fixture(scope="session")
def runtime(settings):
    rt = Runtime.open(settings)
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def storage(runtime):
    return runtime.storage


@pytest.fixture(scope="session")
def app(settings, runtime):
    return create_app(settings, runtime=runtime)


@pytest.fixture(scope="session")
def client(app):
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _token(runtime, role: str, sites=None) -> str:
    token, _ = runtime.tokens.create(role=role, name=f"test-{role}-{uuid.uuid4().hex[:6]}", sites=sites)
    return token


@pytest.fixture(scope="session")
def admin_token(runtime) -> str:
    return _token(runtime, "admin")


@pytest.fixture(scope="session")
def marketer_token(runtime) -> str:
    return _token(runtime, "marketer")


@pytest.fixture(scope="session")
def fraud_token(runtime) -> str:
    return _token(runtime, "fraud")


@pytest.fixture
def new_site(runtime):
    """A fresh registered site id per test (origins: https://shop.example)."""

    def make(*origins: str) -> str:
        site = f"t{next(_site_counter)}-{uuid.uuid4().hex[:6]}"
        runtime.sites.add(site, list(origins) or ["https://shop.example"])
        return site

    return make


def flush(runtime) -> None:
    assert runtime.flusher.drain(30), "spool did not drain"


def _event_dict(kind: str, target, extra: dict) -> dict:
    event = {"type": kind, "id": extra.pop("id", uuid.uuid4().hex), "url": extra.pop("url", None)}
    path = "/"
    if kind in ("promo_view", "promo_click"):
        event["promo"] = {"id": target, **{k: extra.pop(k) for k in ("name", "creative", "slot", "variant") if k in extra}}
        path = extra.pop("path", "/")
    elif kind == "purchase":
        order_id, revenue = target if isinstance(target, tuple) else (target, extra.pop("revenue", 10.0))
        event["order"] = {"id": order_id, "revenue": revenue, **{k: extra.pop(k) for k in ("currency", "coupon") if k in extra}}
        path = extra.pop("path", "/thank-you")
    elif kind == "custom":
        event["name"] = target
        path = extra.pop("path", "/")
    else:
        path = target or "/"
    if event["url"] is None:
        event["url"] = "https://shop.example" + path + extra.pop("query", "")
    event.update(extra)
    return event


def visitor_ip(vid: str) -> str:
    """A stable address per visitor spread over 512 /24s (198.18.0.0/15): hundreds of visitors
    on one /24 within minutes is cookie churn to the trust wing, not ordinary traffic."""
    h = zlib.crc32(vid.encode())
    return f"198.{18 + (h & 1)}.{(h >> 1) & 255}.{((h >> 9) & 253) + 1}"


def journey_rows(site: str, spec: dict[str, list[tuple]], *, ua: str = BROWSER_UA, ip: str | None = None, runtime=None) -> bytes:
    """Rows for `{vid: [(type, target, when[, extras]), ...]}`.

    target: a path (pageview, add_to_cart, checkout), a promo id (promo_view/_click), an
    (order id, revenue) pair (purchase), a name (custom). `when` is a datetime or seconds after
    T0. extras: any event field (`id`, `url`, `ref`, `env`, `props`, `variant`, `coupon`, ...) plus
    `ua` and `ip` for that event. Without `ip` (here or per step) each visitor gets its own
    stable address (`visitor_ip`).
    """
    rows = []
    for vid, steps in spec.items():
        for step in steps:
            kind, target, when = step[:3]
            extra = dict(step[3]) if len(step) > 3 else {}
            at = T0 + timedelta(seconds=when) if isinstance(when, (int, float)) else when
            step_ua = extra.pop("ua", ua)
            step_ip = extra.pop("ip", ip or visitor_ip(vid))
            signed = extra.pop("signed", True)
            event = parse_event(_event_dict(kind, target, extra))
            ts_ms = int(at.timestamp() * 1000)
            prefix, ip_hash = runtime.network.describe(step_ip) if runtime else ("", "")
            agent = runtime.agents.parse(step_ua) if runtime else None
            ctx = Context(
                site=site,
                received_ms=ts_ms,
                vid=vid if signed else "",
                id_source="import" if signed else "cookie",
                minted=not signed,
                ip_prefix=prefix,
                ip_hash=ip_hash,
                has_origin=True,
                **({"agent": agent} if agent else {}),
            )
            if not signed:
                event = parse_event({**_event_dict(kind, target, {}), "id": event.id, "url": event.url, "vid": vid})
            rows.append(encode_row(event, ctx, ts_ms=ts_ms))
    return b"".join(rows)


@pytest.fixture
def journeys(runtime):
    """Insert journeys straight into ClickHouse (same rows ingest writes); returns the site."""

    def insert(site: str, spec: dict[str, list[tuple]], **kwargs) -> str:
        runtime.storage.insert_jsonl("events", journey_rows(site, spec, runtime=runtime, **kwargs))
        return site

    return insert


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
