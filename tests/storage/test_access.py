"""Least privilege: the ingest user only inserts into ingest's tables, the reports user only
reads and cannot raise its budgets; both are what `server_runtime` logs in as, so the other
server tests prove the grants suffice. `tracker storage grants` prints them for an operator."""

from __future__ import annotations

import subprocess
import sys

import clickhouse_connect
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from tests.conftest import journey_rows
from tests.support.clickhouse import PASSWORDS, site_on
from tracker.config import Settings
from tracker.storage import access


@pytest.fixture
def as_user(clickhouse_node, server_runtime):
    """A plain client logged in as one of tracker's users (server_runtime has the schema ready)."""
    opened = []

    def connect(role: str):
        user = {"ingest": access.DEFAULT_INGEST_USER, "reports": access.DEFAULT_REPORTS_USER}[role]
        client = clickhouse_connect.get_client(dsn=clickhouse_node.dsn, username=user, password=PASSWORDS[role], database="tracker",
                                               autogenerate_session_id=False, dedicated_pool=True)
        opened.append(client)
        return client

    yield connect
    for client in opened:
        client.close()


def denied(run) -> None:
    with pytest.raises(DatabaseError, match="ACCESS_DENIED|Not enough privileges|READONLY|readonly"):
        run()


def test_the_ingest_user_inserts_events_and_nothing_else(as_user, server_runtime):
    site = site_on(server_runtime)
    ingest = as_user("ingest")
    ingest.raw_insert("events", None, journey_rows(site, {"v1": [("pageview", "/", 0)]}, runtime=server_runtime),
                      fmt="JSONEachRow", settings={"input_format_skip_unknown_fields": 1})
    assert server_runtime.storage.scalar("SELECT count() FROM events WHERE site = {s:String}", {"s": site}) == 1
    denied(lambda: ingest.query("SELECT count() FROM events"))
    denied(lambda: ingest.command("INSERT INTO sites (site) VALUES ('evil')"))
    denied(lambda: ingest.command("ALTER TABLE events DELETE WHERE 1"))
    denied(lambda: ingest.command("DROP TABLE dead_letters"))
    denied(lambda: ingest.query("SELECT * FROM tokens"))


def test_the_reports_user_reads_within_its_profile(as_user, server_runtime):
    reports = as_user("reports")
    assert reports.query("SELECT count() >= 0 FROM events").result_rows == [(True,)]
    assert reports.query("SELECT getSetting('readonly')").result_rows == [(2,)]
    denied(lambda: reports.command("INSERT INTO events (site) VALUES ('evil')"))
    denied(lambda: reports.command("ALTER TABLE trust_sets DELETE WHERE 1"))
    denied(lambda: reports.command("CREATE TABLE x (a UInt8) ENGINE = Memory"))
    with pytest.raises(DatabaseError, match="max_execution_time"):
        reports.query("SELECT 1", settings={"max_execution_time": 10_000})  # cannot raise its own budget
    assert reports.query("SELECT 1", settings={"max_execution_time": 5}).result_rows == [(1,)]  # may lower it


def test_operator_statements_render_the_same_grants_as_the_xml_users():
    settings = Settings.load({"database": "shop"}, env={})
    sql = access.statements(settings, {"ingest": "p'1", "reports": "p2"})
    assert sql == [
        "CREATE USER IF NOT EXISTS `tracker_ingest` IDENTIFIED WITH sha256_password BY 'p\\'1' SETTINGS PROFILE 'default'",
        "GRANT INSERT ON `shop`.`events` TO `tracker_ingest`",
        "GRANT INSERT ON `shop`.`dead_letters` TO `tracker_ingest`",
        "CREATE SETTINGS PROFILE IF NOT EXISTS `tracker_reports` SETTINGS readonly = 2, max_execution_time = 30 MAX 30,"
        " max_result_rows = 100000 MAX 100000, max_memory_usage = 8589934592 MAX 8589934592",
        "CREATE USER IF NOT EXISTS `tracker_reports` IDENTIFIED WITH sha256_password BY 'p2' SETTINGS PROFILE 'tracker_reports'",
        "GRANT SELECT ON `shop`.* TO `tracker_reports`",
    ]
    ingest, reports = access.xml_users(settings, {"ingest": "p'1", "reports": "p2"})
    assert ingest.grants == ("GRANT INSERT ON `shop`.`events`", "GRANT INSERT ON `shop`.`dead_letters`")
    assert reports.grants == ("GRANT SELECT ON `shop`.*",) and reports.profile["readonly"] == "2"
    assert reports.constraints["max_execution_time"] == {"max": "30"}


def test_tracker_storage_grants_prints_them(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "TRACKER_REPORTS_USER": "ro", "TRACKER_REPORTS_PASSWORD": "secret-ro"}
    out = subprocess.run([sys.executable, "-m", "tracker", "storage", "grants", "--data", str(tmp_path / "none")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "GRANT SELECT ON `tracker`.* TO `ro`;" in lines and "GRANT INSERT ON `tracker`.`events` TO `tracker_ingest`;" in lines
    assert "BY 'secret-ro'" in out.stdout and "TRACKER_INGEST_PASSWORD=" in lines[-1] and "TRACKER_REPORTS_PASSWORD" not in lines[-1]
    assert not (tmp_path / "none").exists()  # it only prints
    xml = subprocess.run([sys.executable, "-m", "tracker", "storage", "grants", "--format", "xml"], capture_output=True, text=True,
                         env=env, timeout=60, cwd=tmp_path)
    assert xml.returncode == 0 and "<query>GRANT SELECT ON `tracker`.*</query>" in xml.stdout and "secret-ro" not in xml.stdout
