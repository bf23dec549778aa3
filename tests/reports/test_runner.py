"""The report runner: every report and trust route declares introspectable Params and answers
with the one envelope; the scope is parsed once, the report's own parameters in declaration
order."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.conftest import BOT_UA, auth
from tracker.errors import BadRequest
from tracker.reports.params import describe, parse_params
from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute, parse
from tracker.reports.trust import routes as trust_routes

TRUST = {r.name: r for r in (trust_routes.VISITORS, trust_routes.VISITOR, trust_routes.PROMOTIONS, trust_routes.COUPONS,
                             trust_routes.NETWORKS, trust_routes.REFRESH)}
ALL = {**REPORTS, **{f"trust/{n}": r for n, r in TRUST.items()}}
RANGE = {"from": "2026-03-01", "to": "2026-03-03"}
REQUIRED = {  # the parameters a report cannot do without
    "paths": {"start": "/"},
    "funnel": {"steps": json.dumps([{"type": "pageview"}, {"type": "purchase"}])},
    "lift": {"promo": "SUMMER"},
    "trust/visitor": {"vid": "v1"},
}
ENVELOPE = ["site", "from", "to", "traffic", "tz"]


@pytest.mark.parametrize("name", list(ALL))
def test_params_are_frozen_dataclasses_that_describe_themselves(name):
    params = ALL[name].params
    assert dataclasses.is_dataclass(params) and params.__dataclass_params__.frozen
    described = describe(params)
    assert [d["name"] for d in described] == [f.name for f in dataclasses.fields(params)]
    assert all(d["help"] and d["in"] in ("query", "path") for d in described)
    parsed = parse_params(params, REQUIRED.get(name, {}))  # absent parameters take their declared defaults
    assert all(getattr(parsed, d["name"]) == d["default"] for d in described if "default" in d)


@pytest.mark.parametrize("name", list(ALL))
def test_every_answer_starts_with_the_envelope(runtime, journeys, new_site, name):
    site = journeys(new_site(), {"v1": [("pageview", "/", 0), ("pageview", "/p/1", 30)], "bot": [("pageview", "/", 5, {"ua": BOT_UA})]})
    body = execute(runtime, ALL[name], {"site": site, **RANGE, "tz": "Europe/Paris", **REQUIRED.get(name, {})})
    assert list(body)[:5] == ENVELOPE
    assert body["site"] == site and (body["from"], body["to"]) == (RANGE["from"], RANGE["to"]) and body["tz"] == "Europe/Paris"
    chosen = ALL[name].traffic == "chosen"
    assert body["traffic"] == ("trusted" if chosen or name == "excluded" else "all")


def test_traffic_all_is_echoed_and_fixed_traffic_is_not_the_caller_s(runtime, new_site):
    site = new_site()
    assert execute(runtime, REPORTS["pages"], {"site": site, **RANGE, "traffic": "all"})["traffic"] == "all"
    assert execute(runtime, REPORTS["excluded"], {"site": site, **RANGE, "traffic": "all"})["traffic"] == "trusted"
    assert execute(runtime, trust_routes.COUPONS, {"site": site, **RANGE, "traffic": "trusted"})["traffic"] == "all"


def test_the_scope_is_checked_before_the_report_s_own_parameters():
    with pytest.raises(BadRequest, match="site is required"):
        parse(REPORTS["paths"], {})  # `start` is missing too: the scope speaks first
    with pytest.raises(BadRequest, match="start is required"):
        parse(REPORTS["paths"], {"site": "shop"})
    with pytest.raises(BadRequest, match="depth must be between 1 and 10"):
        parse(REPORTS["paths"], {"site": "shop", "start": "/", "depth": "11", "limit": "0"})  # declaration order


def test_unknown_report_is_a_404_listing_the_reports(client, marketer_token):
    r = client.get("/api/reports/nope", params={"site": "x"}, headers=auth(marketer_token))
    assert r.status_code == 404 and all(name in r.json()["error"] for name in REPORTS)
