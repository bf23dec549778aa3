"""The purchases table (migration 083, tracker/storage/views.py): it holds exactly the
purchase rows of `events`, as the ingest user inserts them, after a migration on a store that
already had events, and after `repartition` rebuilt events (which loses the view). On a real
ClickHouse server node, a database of its own per test."""

from __future__ import annotations

import pytest

from tests.conftest import journey_rows
from tests.storage.test_access import as_user  # noqa: F401 (fixture)
from tests.storage.test_repartition import month_layout, store  # noqa: F401 (fixture: a database of its own)
from tests.support.clickhouse import site_on
from tracker.errors import StorageError
from tracker.storage import access
from tracker.storage.client import Storage
from tracker.storage.migrate import migrate
from tracker.storage.repartition import compact_closed_days
from tracker.storage.views import ensure_views

ROWS = "SELECT event_id, vid, order_id, toString(revenue), currency, ts FROM {table} FINAL WHERE site = {{s:String}} AND type = 'purchase' ORDER BY event_id"
VIEW_OF_EVENTS = "SELECT has(dependencies_table, 'purchases_mv') FROM system.tables WHERE database = currentDatabase() AND name = 'events'"


def journey(site: str, tag: str, seconds: int = 0) -> bytes:
    return journey_rows(site, {
        f"{tag}-a": [("pageview", "/", seconds), ("add_to_cart", "/p/1", seconds + 20), ("purchase", (f"{tag}-o1", 20.5), seconds + 40)],
        f"{tag}-b": [("pageview", "/", seconds), ("purchase", (f"{tag}-o2", 99.0), seconds + 30), ("purchase", (f"{tag}-o2", 99.0), seconds + 31)],
        f"{tag}-c": [("pageview", "/", seconds), ("pageview", "/p/2", seconds + 10)],
    })


def same_purchases(storage: Storage, site: str) -> list:
    events = storage.query(ROWS.format(table="events"), {"s": site}).rows
    assert storage.query(ROWS.format(table="purchases"), {"s": site}).rows == events
    return events


def forget(store: Storage, table: str, version: int) -> None:
    """The store as it was before migration `version` made `table` (and its view `<table>_mv`)."""
    store.command(f"DROP VIEW {table}_mv SYNC")
    store.command(f"DROP TABLE {table} SYNC")
    store.command("ALTER TABLE schema_migrations DELETE WHERE version = {v:UInt32}", {"v": version}, settings={"mutations_sync": 2})


def test_the_ingest_users_inserts_reach_purchases_and_only_purchase_rows_do(as_user, server_runtime):  # noqa: F811
    site = site_on(server_runtime)
    # The ingest user may insert into events but not read it: the view runs as its definer.
    as_user("ingest").raw_insert("events", None, journey(site, "ing"), fmt="JSONEachRow", settings={"input_format_skip_unknown_fields": 1})
    storage = server_runtime.storage
    assert len(same_purchases(storage, site)) == 3
    assert storage.scalar("SELECT countIf(type != 'purchase') FROM purchases WHERE site = {s:String}", {"s": site}) == 0


def test_a_store_with_events_and_no_purchases_table_is_backfilled(store):  # noqa: F811
    site = "shop"
    store.insert_jsonl("events", journey(site, "old"))
    forget(store, "purchases", 83)
    store.insert_jsonl("events", journey(site, "mid", 600))  # written while no view existed
    assert migrate(store) == [83]
    assert len(same_purchases(store, site)) == 6
    store.insert_jsonl("events", journey(site, "new", 1200))
    assert len(same_purchases(store, site)) == 9
    assert ensure_views(store) == []  # nothing to do on the next start


def test_the_view_survives_repartition_of_events(store):  # noqa: F811
    site = "shop"
    month_layout(store)  # the layout of earlier versions (re-created under the same name: the view stays)
    store.insert_jsonl("events", journey(site, "month"))
    # Rebuilding events by day renames the month table away, and its views go with it (a new
    # table of the old name has none); migrate then re-creates the view and backfills.
    migrate(store)
    assert store.scalar(VIEW_OF_EVENTS) == 1
    store.insert_jsonl("events", journey(site, "day", 600))
    assert len(same_purchases(store, site)) == 6


def test_closed_days_of_purchases_are_merged_into_one_part_like_events(store):  # noqa: F811
    for k in range(3):  # three flushes of a day long closed: three parts in each table
        store.insert_jsonl("events", journey("shop", f"flush{k}", 60 * k))
    parts = ("SELECT table, count() FROM system.parts WHERE database = currentDatabase() AND active"
             " AND table IN ('events', 'purchases') GROUP BY table ORDER BY table")
    assert store.query(parts).rows == [("events", 3), ("purchases", 3)]
    compact_closed_days(store)
    assert store.query(parts).rows == [("events", 1), ("purchases", 1)]
    assert len(same_purchases(store, "shop")) == 9


def test_a_view_defined_by_a_user_this_engine_lacks_rights_for_is_handed_to_this_user_at_start(store):  # noqa: F811
    """`serve --workers` migrates as its XML user and a plain `serve` opens the same dir as
    `default`: a view that keeps a definer from the other mode fails every insert into events
    (test_workers.py saw acknowledged events dead-lettered). Here the definer is a user that
    may not read events, so inserts fail until `ensure_views` hands the view to this user."""
    site = "shop"
    store.command(f"ALTER TABLE purchases_mv MODIFY SQL SECURITY DEFINER DEFINER = `{access.DEFAULT_INGEST_USER}`")
    with pytest.raises(StorageError):
        store.insert_jsonl("events", journey(site, "before"))
    assert ensure_views(store) == []  # handed over, not re-created: nothing to backfill
    assert store.scalar("SELECT definer = currentUser() FROM system.tables WHERE database = currentDatabase() AND name = 'purchases_mv'")
    store.insert_jsonl("events", journey(site, "after"))
    assert len(same_purchases(store, site)) == 3


PROMO_ROWS = ("SELECT event_id, vid, type, promo_id, ts FROM {table} FINAL WHERE site = {{s:String}}"
              " AND type IN ('promo_view', 'promo_click') ORDER BY event_id")


def promo_journey(site: str, tag: str, seconds: int = 0) -> bytes:
    return journey_rows(site, {
        f"{tag}-a": [("pageview", "/", seconds), ("promo_view", "P1", seconds + 2), ("promo_click", "P1", seconds + 5),
                     ("purchase", (f"{tag}-o1", 20.5), seconds + 40)],
        f"{tag}-b": [("promo_view", "P2", seconds), ("pageview", "/p/2", seconds + 10)],
    })


def test_promo_events_hold_exactly_the_promo_rows_and_a_store_from_before_them_is_backfilled(store):  # noqa: F811
    """promo_events (migration 091): the promotions report's views and clicks, kept apart by
    `promo_events_mv` like purchases; a store that had events before the table existed gets
    them copied at the next start."""
    site = "shop"
    store.insert_jsonl("events", promo_journey(site, "old"))
    forget(store, "promo_events", 91)
    store.insert_jsonl("events", promo_journey(site, "mid", 600))  # written while no view existed
    assert migrate(store) == [91]
    store.insert_jsonl("events", promo_journey(site, "new", 1200))
    events = store.query(PROMO_ROWS.format(table="events"), {"s": site}).rows
    assert len(events) == 9 and store.query(PROMO_ROWS.format(table="promo_events"), {"s": site}).rows == events
    assert store.scalar("SELECT count() FROM promo_events WHERE type NOT IN ('promo_view', 'promo_click')") == 0
