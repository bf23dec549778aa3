"""Day partitions (tracker/storage/repartition.py): a store of the month layout is rebuilt once,
losing and duplicating nothing, every step can be repeated after a crash, and closed days are
merged into one part so FINAL reads them without merging. On a real ClickHouse server node, a
database of its own per test."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.clickhouse import settings_for
from tracker.storage.client import Storage
from tracker.storage.migrate import migrate
from tracker.storage.repartition import DAY_KEY, compact_closed_days, repartition_events

COLUMNS = ["site", "event_id", "type", "ts", "received_at", "vid", "path"]
KEY = "SELECT partition_key FROM system.tables WHERE database = currentDatabase() AND name = {t:String}"


@pytest.fixture
def store(clickhouse_node, tmp_path):
    database = f"repartition_{uuid.uuid4().hex[:8]}"
    storage = Storage(settings_for(tmp_path, dsn=clickhouse_node.dsn, database=database))
    migrate(storage)
    yield storage
    storage.command(f"DROP DATABASE IF EXISTS `{database}`")
    storage.close()


def month_layout(storage: Storage) -> None:
    """Turn the freshly migrated (day) events table back into the layout of earlier versions."""
    ddl = storage.scalar("SHOW CREATE TABLE events")
    storage.command("DROP TABLE events SYNC")
    storage.command(ddl.replace(f"PARTITION BY {DAY_KEY}", "PARTITION BY toYYYYMM(ts)"))
    assert storage.scalar(KEY, {"t": "events"}) == "toYYYYMM(ts)"


def rows(site: str, days: list[datetime], per_day: int, *, duplicate: bool = True) -> list[list]:
    out = []
    for d, day in enumerate(days):
        for i in range(per_day):
            at = day + timedelta(minutes=i)
            out.append([site, f"e{d}-{i}", "pageview", at, at, f"v{i % 7}", f"/p/{i}"])
        if duplicate:  # a replayed copy of the day's first event, received later the same day
            at = day + timedelta(hours=2)
            out.append([site, f"e{d}-0", "pageview", day, at, "v0", "/p/0"])
    return out


def counts(storage: Storage) -> tuple[int, int, list]:
    raw = storage.scalar("SELECT count() FROM events")
    final = storage.scalar("SELECT count() FROM events FINAL")
    per_day = storage.query("SELECT toDate(ts) AS d, count(), uniqExact(event_id), min(received_at) FROM events FINAL GROUP BY d ORDER BY d").rows
    return raw, final, per_day


def test_a_month_layout_store_is_rebuilt_by_day_once(store):
    month_layout(store)
    days = [datetime(2026, 10, 30), datetime(2026, 10, 31), datetime(2026, 11, 1), datetime(2026, 11, 2)]
    store.insert_rows("events", COLUMNS, rows("s1", days, 30))
    store.insert_rows("events", COLUMNS, rows("s2", days[:2], 5, duplicate=False))
    replay = [r[:4] + [r[4] + timedelta(hours=1)] + r[5:] for r in rows("s1", days, 30, duplicate=False) if r[3].day in (31, 1)]
    store.insert_rows("events", COLUMNS, replay)  # a later copy of two days, in parts of its own
    before = counts(store)
    assert before[0] - before[1] == 60
    assert repartition_events(store) is True
    assert store.scalar(KEY, {"t": "events"}) == DAY_KEY
    after = counts(store)
    assert after[1:] == before[1:]  # the same events, the first copy kept (dedup_ver copied)
    assert store.scalar("SELECT uniqExact(partition) FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active") == 4
    assert repartition_events(store) is False  # once
    assert counts(store)[1:] == before[1:]
    # the dedup version is materialised from received_at: the first copy still wins
    first = store.scalar("SELECT received_at FROM events FINAL WHERE event_id = 'e0-0' AND site = 's1'")
    assert first.replace(tzinfo=None) == days[0]


def test_every_step_can_be_repeated_after_a_crash(store):
    month_layout(store)
    days = [datetime(2026, 11, 3), datetime(2026, 11, 4)]
    store.insert_rows("events", COLUMNS, rows("s1", days, 10))
    before = counts(store)[1:]
    ddl = store.scalar("SHOW CREATE TABLE events")
    # stopped after renaming the month table away: no events table at all
    store.command("RENAME TABLE events TO events_by_month")
    assert repartition_events(store) is True
    assert store.scalar(KEY, {"t": "events"}) == DAY_KEY and counts(store)[1:] == before
    # stopped half-way through the copy: the month table is back beside a partly filled day table
    store.command(ddl.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS").replace(".events", ".events_by_month", 1))
    store.command("INSERT INTO events_by_month SELECT * FROM events")
    store.command("TRUNCATE TABLE events")
    store.command("INSERT INTO events SELECT * FROM events_by_month LIMIT 3")
    assert repartition_events(store) is True
    assert counts(store)[1:] == before
    assert store.scalar("SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'events_by_month'") == 0
    assert repartition_events(store) is False


def test_events_written_during_the_rebuild_are_kept(store):
    """A writer that inserts while the old rows are copied (a spool recovered at start) lands in
    the new table, never in the one about to be dropped."""
    month_layout(store)
    store.insert_rows("events", COLUMNS, rows("s1", [datetime(2026, 10, 20)], 50))
    store.command("RENAME TABLE events TO events_by_month")  # as the rebuild does first
    ddl = store.scalar("SHOW CREATE TABLE events_by_month").replace(".events_by_month", ".events", 1).replace("toYYYYMM(ts)", DAY_KEY)
    store.command(ddl)
    store.insert_rows("events", COLUMNS, rows("late", [datetime(2026, 11, 20)], 7))  # the writer, before the copy
    assert repartition_events(store) is True
    assert store.scalar("SELECT count() FROM events FINAL WHERE site = 'late'") == 7
    assert store.scalar("SELECT count() FROM events FINAL WHERE site = 's1'") == 50


def test_closed_days_are_merged_into_one_part(store):
    now = datetime.now(UTC).replace(tzinfo=None)
    today = datetime(now.year, now.month, now.day)
    old = [today - timedelta(days=3), today - timedelta(days=2)]
    for k in range(3):  # three flushes a day: three parts each, later copies of the same events
        later = [r[:4] + [r[4] + timedelta(seconds=k)] + r[5:] for r in rows("s1", [*old, today], 4)]
        store.insert_rows("events", COLUMNS, later)
    parts = "SELECT partition, count(), max(level) FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active GROUP BY partition ORDER BY partition"
    assert [n for _, n, _ in store.query(parts).rows] == [3, 3, 3]
    before = counts(store)[1:]
    merged = compact_closed_days(store, now=now)
    assert sorted(merged) == sorted(d.strftime("%Y%m%d") for d in old)
    layout = store.query(parts).rows
    assert [(n, level > 0) for _, n, level in layout[:2]] == [(1, True), (1, True)]
    assert layout[2][1] == 3  # today is left to the stream
    assert counts(store)[1:] == before
    assert store.scalar("SELECT count() FROM events WHERE toDate(ts) < {d:Date}", {"d": today.date()}) == 2 * 4  # the copies merged away
    assert compact_closed_days(store, now=now) == []  # nothing left to merge
