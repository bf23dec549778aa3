"""After an erase, the trust listings (and their materialised evidence) do not show the visitor."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tests.conftest import BOT_UA, auth

# A closed day inside the evidence retention, so the trust job materialises it.
DAY = (datetime.now(UTC) - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
RANGE = {"from": DAY.date().isoformat(), "to": DAY.date().isoformat(), "max_score": "100", "traffic": "all"}


def _listed(client, token, site) -> set[str]:
    r = client.get("/api/trust/visitors", params={"site": site, **RANGE}, headers=auth(token))
    assert r.status_code == 200, r.text
    return {row["vid"] for row in r.json()["rows"]}


def test_erased_visitor_leaves_the_trust_listing_and_its_evidence(client, runtime, journeys, new_site, fraud_token, admin_token):
    site = new_site()
    bot, human = f"bot-{uuid.uuid4().hex[:6]}", f"human-{uuid.uuid4().hex[:6]}"
    journeys(site, {bot: [("pageview", "/", DAY + timedelta(seconds=i)) for i in range(5)]}, ua=BOT_UA)
    journeys(site, {human: [("pageview", "/", DAY), ("pageview", "/x", DAY + timedelta(seconds=40))]})
    r = client.post("/api/trust/refresh", params={"site": site, **RANGE}, headers=auth(admin_token))
    assert r.status_code == 200 and r.json()["refreshed"], r.text
    assert bot in _listed(client, fraud_token, site)

    r = client.delete(f"/api/privacy/visitors/{bot}", headers=auth(admin_token))
    assert r.status_code == 200, r.text
    assert r.json()["erased"]["events"] == 5 and r.json()["erased"]["visitor_signals"] >= 1  # the materialised evidence too

    assert bot not in _listed(client, fraud_token, site)
    one = client.get(f"/api/trust/visitors/{bot}", params={"site": site, **RANGE}, headers=auth(fraud_token))
    assert one.status_code == 404 or bot not in one.text
    assert runtime.storage.scalar("SELECT count() FROM visitor_signals WHERE vid = {v:String}", {"v": bot}) == 0
    assert human in _listed(client, fraud_token, site)


def test_the_sweep_removes_evidence_written_after_the_erasure(client, runtime, journeys, new_site, admin_token):
    """A trust materialisation that read the events just before the erasure writes its rows
    just after it: the later sweep deletes them (here the late write is made by hand)."""
    from tracker.privacy.erase import sweep
    from tracker.reports.trust.materialise import materialise_day

    site = new_site()
    bot = f"late-{uuid.uuid4().hex[:6]}"
    journeys(site, {bot: [("pageview", "/", DAY + timedelta(seconds=i)) for i in range(3)]}, ua=BOT_UA)
    rows = runtime.storage.query("SELECT * FROM visitor_signals WHERE vid = {v:String}", {"v": bot})
    materialise_day(runtime.storage, runtime.trust, site, DAY.date())
    late = runtime.storage.dicts("SELECT * FROM visitor_signals WHERE vid = {v:String}", {"v": bot})
    assert late and not rows.rows
    assert client.delete(f"/api/privacy/visitors/{bot}", headers=auth(admin_token)).status_code == 200
    runtime.storage.insert_rows("visitor_signals", list(late[0]), [tuple(r.values()) for r in late])  # the late write
    assert sweep(runtime.storage, bot) == {"visitor_signals": len(late)}
    assert runtime.storage.scalar("SELECT count() FROM visitor_signals WHERE vid = {v:String}", {"v": bot}) == 0
    assert sweep(runtime.storage, bot) == {}
