"""Tokens: only a hash of the secret is stored, verification is exact, revocation is immediate."""

from __future__ import annotations

import hashlib
import uuid

from tests.conftest import auth


def test_only_the_hash_of_the_secret_is_stored(runtime):
    token, principal = runtime.tokens.create(role="marketer", name=f"hash-{uuid.uuid4().hex[:6]}", sites=["shop"])
    secret = token.split("_", 2)[2]
    row = runtime.storage.dicts("SELECT * FROM tokens FINAL WHERE token_id = {t:String}", {"t": principal.token_id})[0]
    assert row["secret_hash"] == hashlib.sha256(secret.encode()).hexdigest()
    dumped = runtime.storage.scalar("SELECT toString(groupArray(tuple(*))) FROM tokens")
    assert secret not in dumped and token not in dumped


def test_verification_needs_the_exact_secret(runtime):
    token, principal = runtime.tokens.create(role="fraud", name=f"exact-{uuid.uuid4().hex[:6]}")
    assert runtime.tokens.verify(token) == principal
    secret = token.split("_", 2)[2]
    for wrong in (token[:-1] + ("A" if token[-1] != "A" else "B"), f"trk_{'0' * 12}_{secret}", token + "x", token.upper(), ""):
        assert runtime.tokens.verify(wrong) is None, wrong


def test_revocation_is_immediate_and_listed(client, runtime, admin_token):
    name = f"revoke-{uuid.uuid4().hex[:6]}"
    token, principal = runtime.tokens.create(role="marketer", name=name)
    assert client.get("/api/reports/overview", params={"site": "x", "traffic": "nope"}, headers=auth(token)).status_code == 400
    assert client.delete(f"/api/admin/tokens/{name}", headers=auth(admin_token)).json() == {"revoked": 1}
    r = client.get("/api/reports/overview", params={"site": "x"}, headers=auth(token))
    assert r.status_code == 401 and r.json() == {"error": "this token is not valid"}
    rows = {r["token_id"]: r for r in client.get("/api/admin/tokens", headers=auth(admin_token)).json()["rows"]}
    assert rows[principal.token_id]["revoked_at"] is not None
    assert "secret_hash" not in rows[principal.token_id]
