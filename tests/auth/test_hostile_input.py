"""SQL injection attempts in every report parameter (values and identifiers) answer 400 or
correct, scoped results; induced failures never show a stack trace or SQL; security headers."""

from __future__ import annotations

import uuid

import orjson
import pytest
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import auth
from tracker.app import create_app
from tracker.reports.routes import REPORTS

PAYLOADS = [
    "x' OR 1=1 --",
    "2026-01-01'; DROP TABLE events --",
    "1) OR (1=1",
    "`events`",
    "{site:String}",
    "events FINAL WHERE 1=1 --",
    "\\' UNION SELECT vid, ip_prefix FROM events --",
    "vid",
    "ip_prefix",
]
COMMON = ["site", "from", "to", "traffic", "tz"]
OWN = {
    "pages": ["limit"],
    "paths": ["start", "depth", "limit"],
    "funnel": ["steps", "window", "breakdown", "promo"],
    "promotions": ["model", "lookback_days", "half_life_days", "by"],
    "campaigns": [],
    "lift": ["promo"],
    "overview": [],
}
STEP_PAYLOADS = [
    '[{"type": "pageview", "path": "/\' OR 1=1 --"}]',
    '[{"type": "pageview\' OR 1=1 --"}]',
    '[{"type": "pageview", "path; DROP TABLE events": "/"}]',
    '[{"type": "pageview", "vid": "x"}]',
    '{"type": "pageview"} OR 1=1',
]
LEAKS = ("Traceback", 'File "', "SELECT ", " FROM ", "DB::Exception", "Code: ", "Stack trace", "clickhouse_connect", "chdb")


def _base(name: str, site: str) -> dict[str, str]:
    params = {"site": site, "from": "2026-03-01", "to": "2026-03-03"}
    if name == "funnel":
        params["steps"] = '[{"type": "pageview", "path": "/"}, {"type": "purchase"}]'
    if name == "lift":
        params["promo"] = "SPRING"
    return params


def assert_clean(r, payload: str = "") -> None:
    assert r.status_code < 500, (r.status_code, r.text[:300])
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"error"} and isinstance(body["error"], str)
    text = orjson.dumps(body).decode().replace(orjson.dumps(payload).decode()[1:-1], "")  # an echo of the input is no leak
    assert not any(marker in text for marker in LEAKS), text[:300]


@pytest.fixture(scope="module")
def populated(runtime):
    from tests.conftest import journey_rows

    mine, theirs = f"inj-{uuid.uuid4().hex[:6]}", f"inj-{uuid.uuid4().hex[:6]}"
    runtime.sites.add(mine, ["https://shop.example"])
    runtime.sites.add(theirs, ["https://shop.example"])
    runtime.storage.insert_jsonl("events", journey_rows(mine, {"m1": [("pageview", "/", 0), ("promo_view", "SPRING", 5), ("purchase", ("o1", 5.0), 50)]}, runtime=runtime))
    secret_path = f"/only-theirs-{uuid.uuid4().hex[:8]}"
    runtime.storage.insert_jsonl("events", journey_rows(theirs, {"t1": [("pageview", secret_path, 0), ("pageview", "/", 10)]}, runtime=runtime))
    token, _ = runtime.tokens.create(role="marketer", name="inj-marketer", sites=[mine])
    return {"mine": mine, "theirs": theirs, "secret_path": secret_path, "token": token}


def _cases():
    for name in REPORTS:
        for param in COMMON + OWN.get(name, []):
            for payload in PAYLOADS + (STEP_PAYLOADS if param == "steps" else []):
                yield name, param, payload


@pytest.mark.parametrize("name", list(REPORTS))
def test_injection_in_every_parameter(client, runtime, populated, admin_token, name):
    before = runtime.storage.scalar("SELECT count() FROM events WHERE site IN ({a:String}, {b:String})", {"a": populated["mine"], "b": populated["theirs"]})
    for report, param, payload in _cases():
        if report != name:
            continue
        params = {**_base(name, populated["mine"]), param: payload}
        r = client.get(f"/api/reports/{name}", params=params, headers=auth(populated["token"]))
        assert_clean(r, payload)
        if param == "site":
            assert r.status_code == 404, (param, payload, r.text)  # not a site this token may see
            r = client.get(f"/api/reports/{name}", params=params, headers=auth(admin_token))
            # not a site id at all (400), or a plain id of a site that is not registered (404, CONTRACT §3)
            assert r.status_code in (400, 404), (param, payload, r.text)
            assert populated["secret_path"] not in r.text
            continue
        assert r.status_code in (200, 400), (param, payload, r.status_code, r.text[:200])
        if r.status_code == 200:  # accepted as a plain value: still only this site's data
            assert populated["secret_path"] not in r.text
    after = runtime.storage.scalar("SELECT count() FROM events WHERE site IN ({a:String}, {b:String})", {"a": populated["mine"], "b": populated["theirs"]})
    assert after == before > 0


def test_identifier_parameters_come_from_allow_lists(client, populated):
    for name, param in (("funnel", "breakdown"), ("promotions", "by"), ("promotions", "model")):
        params = {**_base(name, populated["mine"]), param: "vid) FROM events --"}
        r = client.get(f"/api/reports/{name}", params=params, headers=auth(populated["token"]))
        assert r.status_code == 400 and param in r.json()["error"], r.text


@pytest.mark.parametrize(("setting", "value"), [("max_result_rows", 1), ("max_execution_time", 0.000001), ("max_memory_usage", 1)])
def test_clickhouse_failures_are_clean_errors(client, runtime, populated, setting, value):
    """Real ClickHouse failures (budgets exceeded) become 4xx/5xx JSON without SQL."""
    read_settings = runtime.storage._read_settings
    saved = dict(read_settings)
    read_settings[setting] = value
    try:
        for name in ("overview", "funnel"):  # one plain and one windowFunnel report: enough, and quick
            r = client.get(f"/api/reports/{name}", params=_base(name, populated["mine"]), headers=auth(populated["token"]))
            body = r.json()
            assert not any(marker in r.text for marker in LEAKS), r.text[:300]
            if r.status_code >= 400:
                assert set(body) == {"error"}
            assert r.status_code != 500, r.text
    finally:
        read_settings.clear()
        read_settings.update(saved)


def test_unexpected_exceptions_are_500_without_detail(settings, runtime):
    app = create_app(settings, runtime=runtime)

    async def broken(request) -> Response:
        raise RuntimeError("SELECT secret FROM events -- internal detail")

    app.router.routes.append(Route("/api/broken-on-purpose", broken))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/broken-on-purpose")
    assert r.status_code == 500 and r.json() == {"error": "internal error"}
    assert r.headers["x-content-type-options"] == "nosniff"


def test_security_headers(client, admin_token):
    for path, headers in (("/api/reports/overview?site=x", {}), ("/api/admin/tokens", auth(admin_token)), ("/healthz", {}), ("/api/nope", {})):
        r = client.get(path, headers=headers)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        if path.startswith("/api/"):
            assert r.headers["cache-control"] == "no-store"
    for path in ("/dashboard/login", "/demo"):
        r = client.get(path)
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src" in csp
        assert r.headers["x-frame-options"] == "DENY"


def test_error_shape_is_one_json_object(client):
    r = client.post("/api/collect", content=b"{not json", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400 and set(orjson.loads(r.content)) == {"error"}
