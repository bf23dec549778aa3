"""The dashboard's shared filters and snippet tag, without a server."""

from datetime import date

import pytest

from tracker.auth.tokens import Principal
from tracker.dashboard.pages import PAGES, nav_for, parse_filters, parse_filters_leniently, snippet_tag
from tracker.errors import BadRequest

TODAY = date(2026, 3, 31)


def test_default_is_last_30_days_trusted_on_demo_or_first_site():
    f = parse_filters({}, ["alpha", "demo"], today=TODAY)
    assert (f.site, f.start, f.end, f.preset, f.traffic) == ("demo", date(2026, 3, 2), TODAY, "30", "trusted")
    assert parse_filters({}, ["alpha", "beta"], today=TODAY).site == "alpha"


@pytest.mark.parametrize("preset,start", [("7", date(2026, 3, 25)), ("90", date(2026, 1, 1))])
def test_presets_end_today_and_win_over_stale_dates(preset, start):
    f = parse_filters({"range": preset, "from": "2020-01-01", "to": "2020-01-02"}, ["s"], today=TODAY)
    assert (f.start, f.end) == (start, TODAY)


def test_custom_range_and_previous_period_of_the_same_length():
    f = parse_filters({"from": "2026-03-10", "to": "2026-03-16", "traffic": "all"}, ["s"], today=TODAY)
    assert (f.preset, f.start, f.end, f.traffic) == ("custom", date(2026, 3, 10), date(2026, 3, 16), "all")
    assert f.previous == (date(2026, 3, 3), date(2026, 3, 9))
    assert f.api_params() == {"site": "s", "from": "2026-03-10", "to": "2026-03-16", "traffic": "all"}


@pytest.mark.parametrize(
    "query,message",
    [
        ({"range": "12"}, "(?i)date range must be"),
        ({"from": "yesterday"}, "(?i)from must be a date"),
        ({"from": "2026-03-20", "to": "2026-03-10"}, "must not be after"),
        ({"from": "2020-01-01", "to": "2026-03-10"}, "at most"),
        ({"traffic": "bots"}, "(?i)traffic must be"),
        ({"tz": "Mars/Olympus"}, "not a time zone"),
        ({"site": "no such/site"}, "site must be"),
    ],
)
def test_bad_filters_say_what_is_wrong(query, message):
    with pytest.raises(BadRequest, match=message):
        parse_filters(query, ["s"], today=TODAY)


def test_a_bad_field_falls_back_to_its_default_and_is_named():
    f, errors = parse_filters_leniently({"range": "custom", "from": "2026-03-20", "to": "2026-03-10", "traffic": "all", "tz": "Nowhere/Land"}, ["s"],
                                        chips=["device:mobile", "country:fr"])
    assert set(errors) == {"from", "tz", "filter"}
    assert (f.preset, f.traffic, f.tz, f.chips) == ("30", "all", "", ())  # the good traffic choice is kept


def test_report_filters_and_time_zone_go_to_the_api():
    f = parse_filters({"tz": "Europe/Paris"}, ["s"], today=TODAY, chips=["device:mobile", "source:Google"])
    assert f.api_params()["filter"] == ["device:mobile", "source:google"] and f.api_params()["tz"] == "Europe/Paris"
    assert f.page_query()["filter"] == ["device:mobile", "source:google"]


def test_marketer_navigation_has_no_trust_section():
    marketer = nav_for(Principal("a", "m", "marketer", ()))
    fraud = nav_for(Principal("b", "f", "fraud", ()))
    assert [s for s, _ in marketer] == ["Marketing"]
    assert [s for s, _ in fraud] == ["Marketing", "Trust & safety"]
    assert {p.path for _, items in fraud for p in items} == {p.path for p in PAGES}


def test_snippet_tag_is_the_contract_tag_for_the_site():
    tag = snippet_tag("https://t.shop.example/", "shop")
    assert tag.splitlines() == [
        "<script>window.tracker=window.tracker||function(){(tracker.q=tracker.q||[]).push(arguments)}</script>",
        '<script defer src="https://t.shop.example/snippet.js" data-site="shop"></script>',
    ]
