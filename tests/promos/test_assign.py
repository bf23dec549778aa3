"""GET /api/assign: deterministic per (visitor, promotion), the configured holdout share, and
no cookie or oracle for opted-out visitors, unknown sites and foreign origins."""

from __future__ import annotations

import secrets

import pytest

from tests.conftest import auth
from tracker.vocabulary import COOKIE_NAME
from tracker.promos.registry import bucket, variant

ORIGIN = "https://shop.example"


@pytest.fixture
def site(new_site, client, admin_token):
    site = new_site(ORIGIN)
    client.post("/api/admin/promos", json={"site": site, "promo_id": "HALF", "holdout_pct": 30}, headers=auth(admin_token)).raise_for_status()
    client.post("/api/admin/promos", json={"site": site, "promo_id": "NONE", "holdout_pct": 0}, headers=auth(admin_token)).raise_for_status()
    client.post("/api/admin/promos", json={"site": site, "promo_id": "ALL", "holdout_pct": 100}, headers=auth(admin_token)).raise_for_status()
    return site


def ask(client, site, promo, cookie=None, **headers):
    client.cookies.clear()  # the session's client keeps cookies; each call here is its own visitor
    if cookie:
        headers["Cookie"] = f"{COOKIE_NAME}={cookie}"
    answer = client.get("/api/assign", params={"site": site, "promo": promo}, headers=headers)
    client.cookies.clear()
    return answer


def test_pure_assignment_is_deterministic_and_matches_the_share():
    ids = [secrets.token_urlsafe(16) for _ in range(20_000)]
    assert all(variant(v, "P", 12.5) == variant(v, "P", 12.5) for v in ids[:100])
    for pct in (0, 5, 12.5, 50, 100):
        share = sum(variant(v, "P", pct) == "holdout" for v in ids) / len(ids) * 100
        assert abs(share - pct) < 1.0, (pct, share)
    # Independent across promotions: being held out of one says nothing about another.
    a = [variant(v, "A", 50) == "holdout" for v in ids]
    b = [variant(v, "B", 50) == "holdout" for v in ids]
    assert abs(sum(x and y for x, y in zip(a, b)) / len(ids) - 0.25) < 0.02
    # Raising the share only moves visitors from exposed to holdout.
    assert all(variant(v, "P", 20) == "holdout" for v in ids if variant(v, "P", 10) == "holdout")
    assert 0 <= bucket("v", "P") < 10_000


def test_new_visitor_gets_a_cookie_and_keeps_its_variant(client, site):
    first = ask(client, site, "HALF", Origin=ORIGIN)
    assert first.status_code == 200
    set_cookie = first.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE_NAME}=") and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    cookie = set_cookie.split(";")[0].split("=", 1)[1]
    assert first.headers["access-control-allow-origin"] == ORIGIN
    assert first.headers["access-control-allow-credentials"] == "true"
    assert first.headers["cache-control"] == "no-store"
    again = [ask(client, site, "HALF", cookie, Origin=ORIGIN) for _ in range(5)]
    assert {r.json()["variant"] for r in again} == {first.json()["variant"]}
    assert all("set-cookie" not in r.headers for r in again)
    assert first.json()["variant"] == variant(cookie.split(".")[0], "HALF", 30)


def test_holdout_share_over_many_visitors(client, site):
    answers = [ask(client, site, "HALF").json()["variant"] for _ in range(400)]
    share = answers.count("holdout") / len(answers)
    assert 0.22 <= share <= 0.38, share  # 30 % ± 3.5 standard deviations
    assert {ask(client, site, "ALL").json()["variant"] for _ in range(20)} == {"holdout"}
    assert {ask(client, site, "NONE").json()["variant"] for _ in range(20)} == {"exposed"}


def test_unknown_promo_or_site_is_exposed(client, site):
    assert ask(client, site, "NEVER-REGISTERED").json() == {"variant": "exposed"}
    unknown = ask(client, "no-such-site-x", "ALL")
    assert unknown.json() == {"variant": "exposed"} and "set-cookie" not in unknown.headers


@pytest.mark.parametrize("headers", [{"Sec-GPC": "1"}, {"DNT": "1"}, {"Cookie": "_tid_optout=1"}])
def test_opted_out_visitors_are_exposed_without_cookie(client, site, headers):
    answer = ask(client, site, "ALL", Origin=ORIGIN, **headers)
    assert answer.json() == {"variant": "exposed"}
    assert "set-cookie" not in answer.headers
    assert answer.headers["access-control-allow-origin"] == ORIGIN


def test_foreign_origin_gets_no_cors_and_no_cookie(client, site):
    answer = ask(client, site, "ALL", Origin="https://evil.example")
    assert answer.status_code == 200 and answer.json() == {"variant": "exposed"}
    assert "access-control-allow-origin" not in answer.headers and "set-cookie" not in answer.headers


@pytest.mark.parametrize(
    "params",
    [{}, {"site": "s"}, {"promo": "P"}, {"site": "bad site", "promo": "P"}, {"site": "s", "promo": "x" * 201}, {"site": "s", "promo": "a\x01"}],
)
def test_bad_parameters_are_400(client, params):
    answer = client.get("/api/assign", params=params)
    assert answer.status_code == 400 and "error" in answer.json()


def test_forged_cookie_is_replaced(client, site):
    answer = ask(client, site, "HALF", "forged.abcdef.AAAAAAAAAAAAAAAA")
    assert answer.status_code == 200 and answer.headers["set-cookie"].startswith(f"{COOKIE_NAME}=")
