"""Parse at the door: every limit just under (accepted) and just over (rejected), and every
hostile JSON shape gets a clear 400/413, never an exception that would become a 500."""

from __future__ import annotations

import json

import orjson
import pytest

from tracker.errors import BadRequest, PayloadTooLarge
from tracker.ingest import schema
from tracker.ingest.schema import EventError, parse_batch, parse_event


def ev(**fields) -> dict:
    return {"type": "pageview", "id": "e1", "url": "https://shop.example/", **fields}


def body(events, site="shop") -> bytes:
    return orjson.dumps({"site": site, "events": events})


def test_valid_batch_keeps_indexes_of_rejections():
    batch = parse_batch(body([ev(id="a"), {"type": "nope", "id": "b", "url": "https://x/"}, ev(id="c")]))
    assert [i for i, _ in batch.events] == [0, 2]
    assert batch.rejected[0].index == 1 and "type" in batch.rejected[0].error


def test_body_size_limit_both_sides():
    base = body([ev(props={"k": ""})])
    pad = schema.MAX_BODY_BYTES - len(base)
    exact = body([ev(props={"k": "x" * pad})])
    assert len(exact) == schema.MAX_BODY_BYTES
    batch = parse_batch(exact)  # the size passes; the over-long prop value costs only its event
    assert not batch.events and "props" in batch.rejected[0].error
    spaced = base[:-1] + b" " * pad + b"}"
    assert len(spaced) == schema.MAX_BODY_BYTES
    assert len(parse_batch(spaced).events) == 1
    with pytest.raises(PayloadTooLarge):
        parse_batch(spaced[:-1] + b" }")


def test_event_count_limit_both_sides():
    assert len(parse_batch(body([ev(id=f"e{i}") for i in range(schema.MAX_EVENTS)])).events) == 100
    with pytest.raises(PayloadTooLarge):
        parse_batch(body([ev(id=f"e{i}") for i in range(schema.MAX_EVENTS + 1)]))


@pytest.mark.parametrize(
    ("field", "limit", "make"),
    [
        ("id", schema.MAX_ID_LEN, lambda n: ev(id="a" * n)),
        ("url", schema.MAX_URL_LEN, lambda n: ev(url="https://s.example/" + "p" * (n - 18))),
        ("ref", schema.MAX_URL_LEN, lambda n: ev(ref="https://r.example/" + "p" * (n - 18))),
        ("sid", schema.MAX_ID_LEN, lambda n: ev(sid="s" * n)),
        ("vid", schema.MAX_ID_LEN, lambda n: ev(vid="v" * n)),
        ("name", schema.MAX_TEXT_LEN, lambda n: ev(type="custom", name="n" * n)),
        ("promo.name", schema.MAX_TEXT_LEN, lambda n: ev(type="promo_view", promo={"id": "P", "name": "n" * n})),
        ("order.coupon", schema.MAX_TEXT_LEN, lambda n: ev(type="purchase", order={"id": "o", "revenue": 1, "coupon": "C" * n})),
        ("props key", schema.MAX_PROP_KEY_LEN, lambda n: ev(props={"k" * n: "v"})),
        ("props value", schema.MAX_PROP_VALUE_LEN, lambda n: ev(props={"k": "v" * n})),
        ("props count", schema.MAX_PROPS, lambda n: ev(props={f"k{i}": "v" for i in range(n)})),
    ],
)
def test_field_limits_both_sides(field, limit, make):
    parse_event(make(limit))
    with pytest.raises(EventError):
        parse_event(make(limit + 1))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"site":"shop","events":[{"type":"pageview","id":"a","url":"https://x/","ts":NaN}]}',
        b'{"site":"shop","events":[{"type":"pageview","id":"a","url":"https://x/","ts":Infinity}]}',
        b'{"site":"shop","events":[{"type":"pageview","id":"a","url":"https://x/\\ud800"}]}',
        b'{"site":"shop","events":[{"type":"pageview","id":"a","url":"https://x/\xff"}]}',
        b'{"site":"shop","events":[' + b"[" * 5000 + b"]" * 5000 + b"]}",
        b'{"site":"shop","site":"other","events":[]}',
        b'{"site":"shop","events":[{"type":"pageview","type":"purchase","id":"a","url":"https://x/"}]}',
        b'{"site":"shop","events":[{"type":"pageview","id":"a","url":"https://x/","props":{"k":"1","k":"2"}}]}',
        b'{"site" : "shop", "events" : [{"id" : "a", "id" : "b", "type":"pageview","url":"https://x/"}]}',
        b'{"site":"shop","events":[]',
        b"",
        b"null",
        b"[]",
        b'{"site":"shop"}',
        b'{"site":"shop","events":{}}',
        b'{"site":"","events":[]}',
        b'{"site":"bad site!","events":[]}',
        b'{"site":123,"events":[]}',
    ],
)
def test_hostile_json_is_a_400(raw):
    with pytest.raises(BadRequest):
        parse_batch(raw)


def test_duplicate_key_check_agrees_with_exact_check_on_awkward_but_valid_json():
    tricky = [
        {"site": "shop", "events": [ev(props={"k": 'a":b', "k2": '\\":'})]},
        {"site": "shop", "events": [ev(name='quote " colon :', type="custom")]},
    ]
    for payload in tricky:
        raw = json.dumps(payload, indent=2).encode()  # whitespace: exact path
        assert len(parse_batch(raw).events) == 1
        assert len(parse_batch(orjson.dumps(payload)).events) == 1


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (ev(type="promo_view"), "promo.id is required"),
        (ev(type="promo_click", promo={"name": "x"}), "promo.id is required"),
        (ev(type="purchase"), "order.id and order.revenue are required"),
        (ev(type="purchase", order={"id": "o1"}), "order.id and order.revenue are required"),
        (ev(type="purchase", order={"id": "o1", "revenue": -1}), "revenue"),
        (ev(type="purchase", order={"id": "o1", "revenue": "12"}), "revenue"),
        (ev(type="purchase", order={"id": "o1", "revenue": True}), "revenue"),
        (ev(type="purchase", order={"id": "o1", "revenue": 1, "currency": "EURO"}), "currency"),
        (ev(type="custom"), "name is required"),
        (ev(url="javascript:alert(1)"), "url"),
        (ev(url="/relative"), "url"),
        (ev(id="has space"), "id"),
        (ev(id=""), "id"),
        (ev(type="promo_view", promo={"id": "P", "variant": "other"}), "variant"),
        (ev(env={"webdriver": "yes"}), "webdriver"),
        (ev(name="tab\there", type="custom"), "control characters"),
        (ev(props={"k": {"nested": "x"}}), "props"),
        ({"type": "pageview", "url": "https://x/"}, "id"),
        ("not an object", "object"),
    ],
)
def test_invalid_events_are_rejected_with_a_message(event, message):
    with pytest.raises(EventError, match=message):
        parse_event(event)


def test_normalisation():
    event = parse_event(ev(type="purchase", ts=1, props={"n": 3, "b": True}, order={"id": "o", "revenue": 12.5, "currency": "eur", "coupon": " save10 "}))
    assert event.ts is None  # a client clock decades off is dropped, not an error
    assert event.order.currency == "EUR" and event.order.coupon == "SAVE10"
    assert event.props == {"n": "3", "b": "true"}


def test_null_means_absent():
    event = parse_event(ev(ref=None, sid=None, ts=None, env={"webdriver": None, "screen": None}, promo=None))
    assert event.ref == "" and event.env.screen == "" and event.env.webdriver is None
    with pytest.raises(EventError, match="order.id and order.revenue"):
        parse_event(ev(type="purchase", order={"id": "o", "revenue": None}))


def test_parsed_event_is_frozen():
    event = parse_event(ev())
    with pytest.raises(AttributeError):
        event.id = "other"  # type: ignore[misc]
