"""`tracker.storage.shards`: marked per-visitor levels render as plain SQL on one node and as
`cluster(view())` over the local tables on a cluster (pure: no database)."""

from __future__ import annotations

import pytest

from tracker.reports import _sql, funnel, overview, pages
from tracker.storage.shards import local, render, shard_local


def test_one_node_sql_is_the_sql_without_markers():
    marked = f"SELECT count() FROM ({shard_local('SELECT vid FROM ' + local('events') + ' FINAL GROUP BY vid')})"
    assert render(marked) == "SELECT count() FROM (SELECT vid FROM events FINAL GROUP BY vid)"
    assert render("SELECT 1 FROM events") == "SELECT 1 FROM events"


def test_on_a_cluster_the_outermost_level_runs_on_every_shard_over_local_tables():
    inner = shard_local("SELECT 1 FROM " + local("trust_sets"))
    level = shard_local(f"SELECT vid FROM {local('events')} FINAL WHERE x IN ({inner}) AND o IN (SELECT order_id FROM orders)"
                        " ARRAY JOIN orders AS o GROUP BY vid")
    sql = render(f"SELECT count() FROM ({level}) WHERE v NOT IN (SELECT vid FROM {local('trust_sets')})", "prod", "shop")
    assert sql == ("SELECT count() FROM (SELECT * FROM cluster('prod', view(SELECT vid FROM `shop`.`events_local` FINAL WHERE x IN "
                   "(SELECT 1 FROM `shop`.`trust_sets_local`) AND o IN (SELECT order_id FROM `shop`.`orders`)"
                   " ARRAY JOIN orders AS o GROUP BY vid))) WHERE v NOT IN (SELECT vid FROM trust_sets)")


def test_unbalanced_markers_are_refused():
    with pytest.raises(ValueError):
        render(shard_local("SELECT 1")[:-5], "prod", "shop")
    with pytest.raises(ValueError):
        render("SELECT 1 /*)shard_local*/", "prod", "shop")


@pytest.mark.parametrize("sql", [
    overview.overview_sql(True),
    pages.pages_sql(True),
    funnel.funnel_sql((funnel.Step("pageview"), funnel.Step("purchase")), True),
    _sql.sessions(_sql.events(True)),
])
def test_reports_read_local_tables_only_inside_their_shard_local_levels(sql):
    one, cluster = render(sql), render(sql, "prod", "tracker")
    assert "/*" not in one and "/*" not in cluster and "_local" not in one
    assert "cluster('prod', view(" in cluster and "`tracker`.`events_local` FINAL" in cluster
