"""The audit log records who called what (route templates, never raw values), never
/api/collect; token last use shows in the token list."""

from __future__ import annotations

import uuid

import orjson

from tests.conftest import auth


def _rows(client, admin_token, **params) -> list[dict]:
    r = client.get("/api/admin/audit", params=params, headers=auth(admin_token))
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def test_calls_are_logged_with_route_templates_and_no_visitor_ids(client, runtime, new_site, admin_token):
    site = new_site()
    name = f"audit-{uuid.uuid4().hex[:6]}"
    token, principal = runtime.tokens.create(role="marketer", name=name, sites=[site])
    secret_vid = f"secretvid{uuid.uuid4().hex[:8]}"
    client.get("/api/reports/overview", params={"site": site, "vid": secret_vid}, headers=auth(token))
    client.get(f"/api/privacy/visitors/{secret_vid}", headers=auth(token))  # 403 for a marketer
    client.get("/api/reports/overview", params={"site": "not-mine"}, headers=auth(token))  # 404
    client.post("/api/collect", content=orjson.dumps({"site": site, "events": []}), headers={"Content-Type": "text/plain"})

    rows = _rows(client, admin_token, token=name, limit=50)
    assert [(r["method"], r["route"], r["status"]) for r in reversed(rows)] == [
        ("GET", "/api/reports/{name}", 200),
        ("GET", "/api/privacy/visitors/{vid:path}", 403),
        ("GET", "/api/reports/{name}", 404),
    ]
    assert {r["token_id"] for r in rows} == {principal.token_id} and {r["role"] for r in rows} == {"marketer"}
    assert [r["site"] for r in reversed(rows)] == [site, "", "not-mine"]
    assert all(r["duration_ms"] >= 0 for r in rows)
    everything = _rows(client, admin_token, limit=10000)
    assert secret_vid not in orjson.dumps(everything).decode()
    assert not any(r["route"].startswith("/api/collect") for r in everything)
    by_id = _rows(client, admin_token, token=principal.token_id, limit=50)
    assert len(by_id) == 3


def test_failed_logins_are_logged_without_a_token(client, admin_token):
    client.get("/api/admin/tokens", headers=auth("trk_000000000000_" + "x" * 30))
    rows = _rows(client, admin_token, limit=20)
    assert any(r["route"] == "/api/admin/tokens" and r["status"] == 401 and r["token_id"] == "" for r in rows)


def test_since_and_limit_are_validated(client, admin_token):
    assert client.get("/api/admin/audit", params={"since": "yesterday'; DROP TABLE audit_log"}, headers=auth(admin_token)).status_code == 400
    assert client.get("/api/admin/audit", params={"limit": "0"}, headers=auth(admin_token)).status_code == 400
    assert client.get("/api/admin/audit", params={"limit": "10001"}, headers=auth(admin_token)).status_code == 400
    assert _rows(client, admin_token, since="2999-01-01") == []
    assert len(_rows(client, admin_token, limit=1)) == 1


def test_token_list_shows_last_use(client, runtime, admin_token):
    name = f"lastuse-{uuid.uuid4().hex[:6]}"
    token, principal = runtime.tokens.create(role="fraud", name=name)
    before = {r["token_id"]: r for r in client.get("/api/admin/tokens", headers=auth(admin_token)).json()["rows"]}
    assert before[principal.token_id]["last_used"] is None
    client.get("/api/reports/overview", params={"site": "anything"}, headers=auth(token))
    client.get("/api/reports/overview", params={"site": "anything"}, headers=auth(token))
    runtime.audit.flush()
    rows = {r["token_id"]: r for r in client.get("/api/admin/tokens", headers=auth(admin_token)).json()["rows"]}
    assert rows[principal.token_id]["last_used"] is not None
    # At most one usage row per token a minute, however many requests.
    assert runtime.storage.scalar("SELECT count() FROM token_usage WHERE token_id = {t:String}", {"t": principal.token_id}) == 1


def test_audit_writes_never_wait_on_storage(runtime):
    """note() only queues; a failing insert keeps the entries for the next round."""
    from datetime import UTC, datetime

    from tracker.auth.audit import AuditLog, Entry
    from tracker.errors import StorageError

    class Refusing:
        def insert_rows(self, *a, **k):
            raise StorageError("storage unavailable during writing the audit log")

    log = AuditLog(Refusing())
    log.note(Entry(datetime.now(UTC), "t", "n", "admin", "GET", "/api/x", "", 200, 1.0))
    try:
        log.flush()
    except StorageError:
        pass
    assert len(log._pending) == 1
    log.storage = runtime.storage
    assert log.flush() == 1
