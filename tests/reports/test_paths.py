import pytest

from tracker.errors import BadRequest
from tracker.reports.paths import clean_path, shape

MIN = 60


def _pv(*pages, gap=10, start=0):
    return [("pageview", page, start + i * gap) for i, page in enumerate(pages)]


def test_next_pages_after_start(journeys, new_site, report):
    site = journeys(new_site(), {
        "s1": _pv("/", "/a", "/a", "/b", "/c"),  # reload of /a collapses
        "s2": _pv("/", "/a", "/b"),
        "s3": _pv("/", "/x", "/", "/a"),  # back to start is not a next page
        "s4": _pv("/"),  # ended on start
        # query string ignored; a 31-minute gap ends the session before /b
        "s5": [("pageview", "/z", 0), ("pageview", "/", 10), ("pageview", "/a", 20, {"query": "?q=1"}), ("pageview", "/b", 20 + 31 * MIN)],
        "s6": _pv("/a", "/b"),  # never saw start
    })
    out = report("paths", site, start="/", depth=2)
    assert out["sessions"] == 5
    got = {tuple(r["sequence"]): (r["count"], r["share"]) for r in out["rows"]}
    assert got == {("/a", "/b"): (2, 0.4), ("/x", "/a"): (1, 0.2), ("/a",): (1, 0.2), (): (1, 0.2)}
    assert out["rows"][0]["sequence"] == ["/a", "/b"]
    assert [r for r in out["rows"] if r["exit"]][0]["sequence"] == []
    deeper = report("paths", site, start="/", depth=3)
    assert {tuple(r["sequence"]) for r in deeper["rows"]} >= {("/a", "/b", "/c"), ("/a", "/b")}


def test_start_with_query_string_is_the_same_page(journeys, new_site, report):
    site = journeys(new_site(), {"v": _pv("/cart", "/checkout")})
    out = report("paths", site, start="/cart?step=1", depth=1)
    assert out["start"] == "/cart" and out["rows"][0]["sequence"] == ["/checkout"] and out["rows"][0]["share"] == 1.0


def test_injection_in_start_is_just_a_path(journeys, new_site, report):
    site = journeys(new_site(), {"v": _pv("/", "/a")})
    out = report("paths", site, start="/' OR 1=1 --")
    assert out["sessions"] == 0 and out["rows"] == []


@pytest.mark.parametrize("raw", [None, "", "cart", "/a\x00b", "/" + "x" * 3000])
def test_clean_path_rejects(raw):
    with pytest.raises(BadRequest):
        clean_path(raw)


def test_shape():
    rows = shape([{"sequence": ["/a", "/b"], "sessions": 3}, {"sequence": [], "sessions": 1}], 4)
    assert rows == [
        {"sequence": ["/a", "/b"], "path": "/a → /b", "count": 3, "share": 0.75, "exit": False},
        {"sequence": [], "path": "(exit)", "count": 1, "share": 0.25, "exit": True},
    ]
