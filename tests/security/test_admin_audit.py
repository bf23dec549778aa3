"""Every admin action appears in the audit log (and `tracker audit`) with who, what and which
site (issue #16). The actions are the access matrix's successful calls (tests/auth/test_matrix.py
`EXAMPLES`, generated against the route table), so a new admin route is audited-tested too."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

from tests.auth.test_matrix import EXAMPLES, World, _send
from tests.conftest import auth, journey_rows
from tracker.auth.gate import roles_for

# State-changing routes, and the reads that hand out personal data (a visitor's export).
ACTIONS = sorted(pm for pm in EXAMPLES if pm[1] != "GET" or pm[0].startswith("/api/privacy/visitors"))
NO_DETAIL = {("/api/trust/refresh", "POST"), ("/api/orders", "POST")}  # route and site say it all


@pytest.fixture(scope="module")
def world(runtime):
    site = f"au-{uuid.uuid4().hex[:6]}"
    runtime.sites.add(site, ["https://shop.example"])
    vid = f"au-vid-{uuid.uuid4().hex[:6]}"
    runtime.storage.insert_jsonl("events", journey_rows(site, {vid: [("pageview", "/a", 0)]}, runtime=runtime))
    return World(runtime, site, vid, "/a")


@pytest.mark.parametrize(("path", "method"), ACTIONS)
@pytest.mark.parametrize("scoped", [True, False], ids=["site-scoped admin", "admin"])
def test_each_admin_action_is_audited(client, runtime, world, admin_token, path, method, scoped):
    name = f"au-{uuid.uuid4().hex[:8]}"
    token, principal = runtime.tokens.create(role="admin", name=name, sites=[world.site] if scoped else None)
    call = EXAMPLES[(path, method)](world)
    r = _send(client, method, call, auth(token))
    assert r.status_code == call.ok, r.text
    rows = client.get("/api/admin/audit", params={"token": name}, headers=auth(admin_token)).json()["rows"]
    assert len(rows) == 1, rows
    row = rows[0]
    assert (row["token_id"], row["token_name"], row["role"]) == (principal.token_id, name, "admin")  # who
    assert (row["method"], row["route"], row["status"]) == (method, path, call.ok)  # what
    assert row["site"] == world.site, row  # which site
    if (path, method) not in NO_DETAIL:
        assert row["detail"], row
    assert world.vid not in str(row)  # a visitor's id never: the ledger's salted hash instead
    if path.startswith("/api/privacy/visitors"):
        assert "vid_hash:" in row["detail"]
    # A site-scoped admin reads its own action back.
    if scoped:
        own = client.get("/api/admin/audit", params={"token": name}, headers=auth(token)).json()["rows"]
        assert [o["route"] for o in own[-1:]] == [path]


def test_actions_are_the_protected_unsafe_routes():
    assert {("/api/admin/tokens", "POST"), ("/api/admin/tokens/{token}", "DELETE"), ("/api/admin/sites", "POST"),
            ("/api/admin/import", "POST"), ("/api/privacy/visitors/{vid:path}", "DELETE")} <= set(ACTIONS)
    assert all(roles_for(p) for p, _ in ACTIONS)


def test_tracker_audit_shows_who_what_and_which_site(tracker_server):
    server = tracker_server
    server.add_site("au-shop", "https://shop.example")
    r = server.api("POST", "/api/admin/tokens", json={"role": "marketer", "name": "au-cli-made", "sites": ["au-shop"]})
    assert r.status_code == 201, r.text
    out = subprocess.run([sys.executable, "-m", "tracker", "audit", "--data", str(server.data)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "TRACKER_LOG_LEVEL": "warning"}, check=False)
    assert out.returncode == 0, out.stderr
    made = [line for line in out.stdout.splitlines() if "/api/admin/tokens" in line and "POST" in line]
    assert made, out.stdout
    assert "au-shop" in made[0] and "created token" in made[0] and "'au-cli-made'" in made[0] and "201" in made[0]
    sites = [line for line in out.stdout.splitlines() if "/api/admin/sites" in line and "POST" in line]
    assert sites and "au-shop" in sites[0] and "origins https://shop.example" in sites[0], out.stdout
