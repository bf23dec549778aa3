"""The reports over HTTP: auth, the contract's fields, and hostile parameters."""

import json

import pytest

from tests.conftest import auth

OVERVIEW_FIELDS = {"visitors", "sessions", "pageviews", "bounce_rate", "avg_session_seconds", "excluded_visitors", "timeseries"}


@pytest.fixture
def site(journeys, new_site):
    return journeys(new_site(), {
        "a": [("pageview", "/", 0), ("pageview", "/p/1", 10), ("add_to_cart", "/p/1", 20), ("purchase", ("o1", 30.0), 40)],
        "b": [("pageview", "/", 0)],
    })


def get(client, token, name, **params):
    return client.get(f"/api/reports/{name}", params={"from": "2026-03-01", "to": "2026-03-03", **params}, headers=auth(token) if token else {})


def test_401_without_a_valid_token(client, site):
    for name in ("overview", "pages", "paths", "funnel"):
        r = get(client, None, name, site=site)
        assert r.status_code == 401 and "error" in r.json()
    assert get(client, "tk_nope.nope", "overview", site=site).status_code == 401


def test_contract_fields(client, marketer_token, site):
    overview = get(client, marketer_token, "overview", site=site)
    assert overview.status_code == 200
    body = overview.json()
    assert OVERVIEW_FIELDS <= set(body)
    assert (body["visitors"], body["sessions"], body["pageviews"]) == (2, 2, 3)
    assert body["bounce_rate"] == 0.5 and body["avg_session_seconds"] == 20.0
    assert set(body["timeseries"][0]) >= {"date", "visitors", "pageviews"}

    pages = get(client, marketer_token, "pages", site=site).json()
    assert pages["rows"][0] == {"path": "/", "pageviews": 2, "visitors": 2, "entries": 2, "exits": 1}

    paths = get(client, marketer_token, "paths", site=site, start="/", depth="2").json()
    assert {tuple(r["sequence"]): r["count"] for r in paths["rows"]} == {("/p/1",): 1, (): 1}

    steps = json.dumps([{"type": "pageview", "path": "/"}, {"type": "add_to_cart"}, {"type": "purchase"}])
    funnel = get(client, marketer_token, "funnel", site=site, steps=steps, window="60").json()
    assert [(s["step"], s["visitors"]) for s in funnel["steps"]] == [(1, 2), (2, 1), (3, 1)]
    assert {"step", "visitors", "conversion_from_start", "conversion_from_previous", "median_seconds_from_previous"} <= set(funnel["steps"][0])


@pytest.mark.parametrize("name, params", [
    ("overview", {"site": "x' OR 1=1 --"}),
    ("overview", {"tz": "UTC'); DROP TABLE events; --"}),
    ("overview", {"traffic": "all' OR '1'='1"}),
    ("pages", {"limit": "1; DROP TABLE events"}),
    ("pages", {"limit": "0"}),
    ("paths", {"start": ""}),
    ("paths", {"start": "/", "depth": "99"}),
    ("funnel", {"steps": "[{]"}),
    ("funnel", {"steps": json.dumps([{"type": "pageview"}])}),
    ("funnel", {"steps": json.dumps([{"type": "pageview"}, {"type": "purchase"}]), "window": "-5"}),
    ("funnel", {"steps": json.dumps([{"type": "pageview"}, {"type": "purchase"}]), "breakdown": "vid"}),
])
def test_hostile_parameters_are_400(client, marketer_token, site, name, params):
    r = get(client, marketer_token, name, **{"site": site, **params})
    assert r.status_code == 400, r.text
    assert isinstance(r.json()["error"], str) and r.json()["error"]


def test_injection_in_values_stays_scoped(client, marketer_token, site):
    r = get(client, marketer_token, "paths", site=site, start="/' OR '1'='1")
    assert r.status_code == 200 and r.json()["rows"] == []
    steps = json.dumps([{"type": "pageview", "path": "/*"}, {"type": "custom", "name": "x' OR 1=1 --"}])
    r = get(client, marketer_token, "funnel", site=site, steps=steps)
    assert r.status_code == 200 and [s["visitors"] for s in r.json()["steps"]] == [2, 0]
    # `from` is read as its leading ISO date; the rest never reaches SQL
    r = get(client, marketer_token, "overview", site=site, **{"from": "2026-03-01'; DROP TABLE events; --"})
    assert r.status_code in (200, 400)
    assert get(client, marketer_token, "overview", site=site).json()["pageviews"] == 3  # nothing dropped
