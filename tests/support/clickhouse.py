"""Real ClickHouse servers for the tests, served by the chDB in the lock file
(`tracker.storage.server_process`): one node, and a cluster of two shards without Keeper.

Each is started once per test session, on first use, and stopped at its end. The node has the
least-privilege users of `tracker.storage.access` (ingest and reports), and `server_runtime`
runs as them, so every server test also proves those grants suffice. `cluster_runtime` is a
tracker on the cluster: `TRACKER_CLUSTER` with the nodes listed (DDL applied to each).

`pytest --storage server` runs the whole suite's shared `runtime` on a server node instead of
the embedded engine (tests/conftest.py).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tracker.app import create_app
from tracker.config import Settings
from tracker.runtime import Runtime
from tracker.storage import access
from tracker.storage.server_process import ServerProcess, start_cluster

CLUSTER = "tracker_test"
PASSWORDS = {"ingest": "ingest-pw", "reports": "reports-pw"}

# What every test runtime runs with. trust_refresh_seconds=0: no background trust
# materialisation competing with the tests (scores never depend on it;
# tests/reports/trust/test_materialise.py drives it explicitly). trust_live_seconds=0: ranges are
# evaluated on first ask and re-evaluated when a test says so (tests/reports/trust/test_live.py).
TEST_SETTINGS = {"flush_interval": 0.2, "rate_collect_per_prefix": 0, "rate_collect_per_site": 0, "rate_reports_per_token": 0,
                 "trust_refresh_seconds": 0, "trust_live_seconds": 0}


def settings_for(data_dir, **overrides) -> Settings:
    return Settings.load({"data_dir": str(data_dir), **TEST_SETTINGS, **overrides}, env={})


def role_settings() -> dict:
    """Settings that make a runtime log in as the least-privilege users for ingest and reads."""
    return {"ingest_user": access.DEFAULT_INGEST_USER, "ingest_password": PASSWORDS["ingest"],
            "reports_user": access.DEFAULT_REPORTS_USER, "reports_password": PASSWORDS["reports"]}


@pytest.fixture(scope="session")
def clickhouse_node(tmp_path_factory):
    """One ClickHouse server node with tracker's ingest and reports users."""
    users = access.xml_users(Settings.load({}, env={}), PASSWORDS)
    node = ServerProcess(tmp_path_factory.mktemp("clickhouse-node"), users=users).start()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def clickhouse_cluster(tmp_path_factory):
    """Two ClickHouse nodes, each one shard of the cluster `CLUSTER`."""
    cluster = start_cluster(tmp_path_factory.mktemp("clickhouse-cluster"), CLUSTER, shards=2)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def server_runtime(clickhouse_node, tmp_path_factory):
    """A tracker runtime on the server node, ingesting and reading as the least-privilege users."""
    rt = Runtime.open(settings_for(tmp_path_factory.mktemp("server-runtime"), dsn=clickhouse_node.dsn, **role_settings()))
    yield rt
    rt.close()


@pytest.fixture(scope="session")
def cluster_runtime(clickhouse_cluster, tmp_path_factory):
    """A tracker runtime on the two-shard cluster (tables `_local` per node, Distributed over them)."""
    rt = Runtime.open(settings_for(tmp_path_factory.mktemp("cluster-runtime"), dsn=clickhouse_cluster.dsn, cluster=CLUSTER,
                                    cluster_nodes=",".join(clickhouse_cluster.node_dsns)))
    yield rt
    rt.close()


@contextlib.contextmanager
def api(runtime: Runtime) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The real app over `runtime`, with an admin token's headers."""
    token, _ = runtime.tokens.create(role="admin", name=f"test-admin-{uuid.uuid4().hex[:6]}")
    with TestClient(create_app(runtime.settings, runtime=runtime), base_url="http://testserver") as client:
        yield client, {"Authorization": f"Bearer {token}"}


def site_on(runtime: Runtime) -> str:
    """A fresh site registered on `runtime` (origins: https://shop.example)."""
    site = f"s-{uuid.uuid4().hex[:10]}"
    runtime.sites.add(site, ["https://shop.example"])
    return site
