"""Property-based fuzzing of every report and trust route's parameters: whatever the query
holds, the answer is 2xx or a 4xx JSON error, never a 5xx.

The routes and their parameters are read from the route tables (`reports.routes.REPORTS`, the
trust routes' `Report`s and Starlette routes) and from each `Params`' declarations
(`params.describe`) plus the scope's (`params.SCOPE`), so a new report or parameter is fuzzed
without touching this file. Values mix well-formed ones (a real site with events, dates around
its traffic, declared choices and bounds, known zones) with hostile ones (huge, control
characters, path tricks, out-of-range numbers).
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import T0, auth, journey_rows
from tracker.reports import params as params_module
from tracker.reports.routes import REPORTS
from tracker.reports.runner import Report
from tracker.reports.trust import routes as trust_routes

HOSTILE = st.sampled_from([
    "", " ", "a" * 256, "a" * 5000, "\x00", "%00", "../../etc/passwd", "/etc/localtime", "NaN", "inf", "-1", "1e309",
    "9" * 40, "-9223372036854775809", "0x10", "true", "null", "[]", "{}", "'; DROP TABLE events; --", "\u202e\ufeff",
    "Europe/", "2026-02-30", "2026-13-01", "99999-01-01", "0000-00-00", "2026-03-02T25:00", "🦄" * 70,
])
TEXT = st.text(max_size=300)
LONG = st.text(alphabet="aZ/_-.9", min_size=250, max_size=400)  # past file-name limits
ZONES = st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kathmandu", "Pacific/Kiritimati", "localtime", "Factory"])


def _routes() -> list[tuple[str, str, Report]]:
    """(method, path template, report) for every report route, from the route tables."""
    out = [("GET", f"/api/reports/{name}", report) for name, report in REPORTS.items()]
    trust_reports = {f"report_{r.name}": r for r in vars(trust_routes).values() if isinstance(r, Report)}
    for route in trust_routes.routes:
        report = trust_reports[route.endpoint.__name__]
        out.extend((method, route.path, report) for method in sorted(route.methods - {"HEAD"}))
    return out


ROUTES = _routes()


def _value_strategy(entry: dict, site: str) -> st.SearchStrategy[str]:
    """Candidate raw values of one declared parameter."""
    name = entry["name"]
    good: list[st.SearchStrategy[str]] = []
    if name == "site":
        good.append(st.just(site))
    elif name in ("from", "to"):
        good.append(st.dates(min_value=T0.date().replace(year=2024), max_value=T0.date().replace(year=2028)).map(str))
    elif name == "tz":
        good.append(ZONES)
    if entry.get("choices"):
        good.append(st.sampled_from(entry["choices"]))
    if entry["type"] == "int":
        lo, hi = int(entry.get("lo", -10**6)), int(entry.get("hi", 10**6))
        good.append(st.integers(min_value=lo - 2, max_value=hi + 2).map(str))
    if entry["type"] == "bool":
        good.append(st.sampled_from(["true", "false", "1", "0", "yes"]))
    if entry["type"] == "str":
        good.append(st.sampled_from(["/", "/cart", "SUMMER", "pageview", "pageview,purchase", "v1"]))
    return st.one_of(*good, HOSTILE, TEXT, LONG)


def _query_strategy(report: Report, site: str) -> st.SearchStrategy[dict[str, str]]:
    entries = [*params_module.SCOPE, *params_module.describe(report.params)]
    return st.fixed_dictionaries({}, optional={e["name"]: _value_strategy(e, site) for e in entries})


@pytest.fixture(scope="module")
def fuzz_site(runtime) -> str:
    """A registered site with a dozen visitors' journeys (views, a promo click, purchases)."""
    site = f"fz-{uuid.uuid4().hex[:6]}"
    runtime.sites.add(site, ["https://shop.example"])
    spec = {
        f"v{i}": [("pageview", "/", i * 60), ("promo_click", "SUMMER", i * 60 + 5), ("pageview", "/cart", i * 60 + 9),
                  ("purchase", (f"o{i}", 20.0 + i), i * 60 + 30, {"coupon": "SAVE10"})]
        for i in range(12)
    }
    runtime.storage.insert_jsonl("events", journey_rows(site, spec, runtime=runtime))
    return site


@pytest.mark.parametrize(("method", "path", "report"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_no_parameter_of_any_report_route_gives_a_5xx(client, admin_token, fuzz_site, method, path, report):
    path_params = {e["name"] for e in params_module.describe(report.params) if e["in"] == "path"}

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(query=_query_strategy(report, fuzz_site))
    def check(query: dict[str, str]) -> None:
        url = path
        for name in path_params:
            url = url.replace(f"{{{name}:path}}", quote(query.pop(name, "") or "v1", safe="")).replace(f"{{{name}}}", quote(query.pop(name, "") or "v1", safe=""))
        r = client.request(method, url, params=query, headers=auth(admin_token))
        assert r.status_code < 500, f"{method} {url} {query!r} -> {r.status_code} {r.text[:300]}"
        if r.status_code >= 400:
            assert "error" in r.json(), r.text[:300]

    check()


@pytest.mark.parametrize("tz", ["a" * 256, "a" * 300, "Europe/" + "x" * 250, "\x00", "../UTC", "/etc/localtime", "Etc/GMT+14"])
def test_a_malformed_tz_is_a_400_on_reports_and_trust(client, admin_token, fuzz_site, tz):
    for path in ("/api/reports/overview", "/api/trust/visitors"):
        r = client.get(path, params={"site": fuzz_site, "tz": tz}, headers=auth(admin_token))
        assert r.status_code == 400 and "tz must be an IANA time zone" in r.json()["error"], r.text[:200]
