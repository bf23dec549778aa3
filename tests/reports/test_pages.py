from tests.conftest import BOT_UA
from tracker.reports.pages import shape

MIN = 60


def test_pages_counts_entries_exits_and_ignores_query(journeys, new_site, report):
    site = journeys(new_site(), {
        "v1": [
            ("pageview", "/", 0),
            ("pageview", "/p/1", 10, {"query": "?color=red&utm_source=news"}),
            ("pageview", "/p/1", 20),
            ("promo_click", "SUMMER", 25, {"path": "/landing"}),  # not a pageview: no /landing row
            ("pageview", "/cart", 30),
        ],
        # two sessions (31-minute gap), each a single /p/1 view: both an entry and an exit
        "v2": [("pageview", "/p/1", 0), ("pageview", "/p/1", 31 * MIN)],
        # duplicated delivery of the same pageview
        "v3": [("pageview", "/cart", 0, {"id": "same"}), ("pageview", "/cart", 0, {"id": "same"})],
    })
    rows = report("pages", site)["rows"]
    assert rows == [
        {"path": "/p/1", "pageviews": 4, "visitors": 2, "entries": 2, "exits": 2},
        {"path": "/cart", "pageviews": 2, "visitors": 2, "entries": 1, "exits": 2},
        {"path": "/", "pageviews": 1, "visitors": 1, "entries": 1, "exits": 0},
    ]
    assert report("pages", site, limit=2)["rows"] == rows[:2]


def test_pages_trusted_vs_all(journeys, new_site, report):
    site = new_site()
    journeys(site, {"h": [("pageview", "/", 0)]})
    journeys(site, {"bot": [("pageview", "/", 0), ("pageview", "/robots", 1)]}, ua=BOT_UA)
    assert report("pages", site)["rows"] == [{"path": "/", "pageviews": 1, "visitors": 1, "entries": 1, "exits": 1}]
    assert [r["path"] for r in report("pages", site, traffic="all")["rows"]] == ["/", "/robots"]


def test_shape_gives_plain_ints():
    assert shape([{"path": "/", "pageviews": 3, "visitors": 2, "entries": 1, "exits": 1}]) == [
        {"path": "/", "pageviews": 3, "visitors": 2, "entries": 1, "exits": 1}]
