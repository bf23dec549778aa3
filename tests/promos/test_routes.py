"""The promotions registry through the admin API and the `tracker promo` CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import auth


def put(client, token, **body):
    return client.post("/api/admin/promos", json=body, headers=auth(token))


def test_set_merges_and_list_shows(client, admin_token, new_site):
    site = new_site()
    created = put(client, admin_token, site=site, promo_id="SPRING", name="Spring", holdout_pct=12.5, coupons=["spring10", " Save5 ", "SPRING10"])
    assert created.status_code == 200
    body = created.json()
    assert body["holdout_pct"] == 12.5 and body["coupons"] == ["SPRING10", "SAVE5"] and body["name"] == "Spring"
    assert body["starts_at"] is None and body["created_at"] == body["updated_at"]

    updated = put(client, admin_token, site=site, promo_id="SPRING", starts_at="2026-03-01", ends_at="2026-03-31").json()
    assert updated["holdout_pct"] == 12.5 and updated["coupons"] == ["SPRING10", "SAVE5"]  # kept
    assert updated["starts_at"] == "2026-03-01T00:00:00.000Z" and updated["ends_at"] == "2026-03-31T23:59:59.999Z"
    assert updated["created_at"] == body["created_at"] and updated["updated_at"] > body["updated_at"]
    put(client, admin_token, site=site, promo_id="AUTUMN").raise_for_status()
    put(client, admin_token, site=site, promo_id="SPRING", holdout_pct=0, ends_at="").raise_for_status()

    rows = client.get("/api/admin/promos", params={"site": site}, headers=auth(admin_token)).json()["rows"]
    assert [(r["promo_id"], r["holdout_pct"], r["ends_at"]) for r in rows] == [("AUTUMN", 0.0, None), ("SPRING", 0.0, None)]

    removed = client.delete("/api/admin/promos", params={"site": site, "promo": "AUTUMN"}, headers=auth(admin_token))
    assert removed.json() == {"removed": 1}
    rows = client.get("/api/admin/promos", params={"site": site}, headers=auth(admin_token)).json()["rows"]
    assert [r["promo_id"] for r in rows] == ["SPRING"]
    assert client.delete("/api/admin/promos", params={"site": site, "promo": "AUTUMN"}, headers=auth(admin_token)).status_code == 404


def test_registry_helpers_read_what_the_api_wrote(client, admin_token, new_site, runtime):
    from tracker.promos.registry import Promos

    site = new_site()
    put(client, admin_token, site=site, promo_id="A", coupons=["X1", "SHARED"]).raise_for_status()
    put(client, admin_token, site=site, promo_id="B", coupons=["SHARED"], holdout_pct=5).raise_for_status()
    promos = Promos(runtime.storage)
    assert promos.get(site, "B").holdout_pct == 5.0
    assert promos.get(site, "missing") is None
    assert promos.coupons(site) == {"X1": "A", "SHARED": "A"}


@pytest.mark.parametrize(
    "body, message",
    [
        ({"promo_id": "P", "holdout_pct": 101}, "holdout_pct"),
        ({"promo_id": "P", "holdout_pct": -1}, "holdout_pct"),
        ({"promo_id": "P", "holdout_pct": "lots"}, "holdout_pct"),
        ({"promo_id": "P", "holdout_pct": True}, "holdout_pct"),
        ({"promo_id": "P", "coupons": "SAVE"}, "coupons"),
        ({"promo_id": "P", "coupons": ["x" * 201]}, "coupon"),
        ({"promo_id": "P", "starts_at": "tomorrow"}, "starts_at"),
        ({"promo_id": "P", "starts_at": "2026-04-01", "ends_at": "2026-03-01"}, "before"),
        ({"promo_id": ""}, "promo id"),
        ({"promo_id": 7}, "promo id"),
        ({"promo_id": "P", "name": "a\nb"}, "name"),
    ],
)
def test_bad_input_is_a_clear_400(client, admin_token, new_site, body, message):
    answer = put(client, admin_token, site=new_site(), **body)
    assert answer.status_code == 400 and message in answer.json()["error"]


def test_bad_bodies_and_sites(client, admin_token):
    headers = {**auth(admin_token), "Content-Type": "application/json"}
    assert client.post("/api/admin/promos", content=b"{not json", headers=headers).status_code == 400
    assert client.post("/api/admin/promos", content=b"[1]", headers=headers).status_code == 400
    assert put(client, admin_token, site="never-registered-zz", promo_id="P").status_code == 404
    assert put(client, admin_token, site="bad site", promo_id="P").status_code == 400
    assert client.get("/api/admin/promos", headers=auth(admin_token)).status_code == 400


def test_only_admins(client, marketer_token, fraud_token, new_site):
    site = new_site()
    assert client.get("/api/admin/promos", params={"site": site}).status_code == 401
    for token in (marketer_token, fraud_token):
        assert client.get("/api/admin/promos", params={"site": site}, headers=auth(token)).status_code == 403
        assert put(client, token, site=site, promo_id="P").status_code == 403


def tracker_cli(data, *args):
    return subprocess.run([sys.executable, "-m", "tracker", *args, "--data", str(data)], capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_cli_promo_set_and_list(tmp_path):
    data = tmp_path / "data"
    assert tracker_cli(data, "site", "add", "shop", "--origin", "https://shop.example").returncode == 0
    done = tracker_cli(
        data, "promo", "set", "SPRING", "--site", "shop", "--name", "Spring sale", "--holdout", "12.5",
        "--coupon", "spring10", "--coupon", "SAVE5", "--start", "2026-03-01", "--end", "2026-03-31",
    )
    assert done.returncode == 0, done.stderr
    assert "SPRING\tholdout 12.5%\tcoupons SPRING10,SAVE5\t2026-03-01T00:00:00.000Z to 2026-03-31T23:59:59.999Z\tSpring sale" in done.stdout
    assert tracker_cli(data, "promo", "set", "SPRING", "--site", "shop", "--holdout", "20").returncode == 0
    listed = tracker_cli(data, "promo", "list", "--site", "shop")
    assert listed.returncode == 0 and listed.stdout.splitlines()[1].split()[:5] == ["SPRING", "Spring", "sale", "20", "SPRING10,SAVE5"]
    unscheduled = tracker_cli(data, "promo", "set", "BANNER", "--site", "shop")
    assert unscheduled.returncode == 0 and " to " not in unscheduled.stdout and "…" not in unscheduled.stdout
    bad = tracker_cli(data, "promo", "set", "SPRING", "--site", "shop", "--holdout", "150")
    assert bad.returncode == 1 and "holdout_pct must be a number from 0 to 100" in bad.stderr
    missing = tracker_cli(data, "promo", "list", "--site", "nope")
    assert missing.returncode == 0 and "no promotions on site nope" in missing.stdout
