"""PII scrubbing (issue #16, hole 3), table-driven over every stored free-text field: each
hostile value is sent through the real `/api/collect` beside a benign one, the stored row is
read back from ClickHouse, and nothing recognisable of the hostile value is left while the
benign one is stored exactly.
"""

from __future__ import annotations

import uuid

import orjson
import pytest

from tests.conftest import flush

# Hostile values: (label, value as text, what of it must never be stored)
EMAILS = [
    ("plus-addressed", "henry.q+news@mailhost-x.org", ("henry", "mailhost")),
    ("percent-encoded", "henry.q%2Bnews%40mailhost-x.org", ("henry", "mailhost")),
    ("double-encoded", "henry.q%252Bnews%2540mailhost-x.org", ("henry", "mailhost")),
    ("encoded domain", "henry.q@%6Dailhost-x%2Eorg", ("henry", "ailhost")),
]
NUMBERS = [
    ("intl phone", "+33 6 12 34 56 78", ("12 34 56", "612345678")),
    ("us phone", "(555) 867-5309", ("867-5309", "8675309")),
    ("card dashed", "4111-1111-1111-1111", ("4111",)),
    ("card plain", "4111111111111111", ("4111",)),
]
CLICK_IDS = [("gclid in text", "see /?gclid=Cj0KCQiAxyzSECRET&a=1", ("Cj0KCQ",))]
BENIGN = "12.50 EUR 2026-03-02 v1.2.3 sku-123456789 ORD-2026-000123 550e8400-e29b-41d4-a716-446655440000 Blue shoes"
TEXT_COLUMNS = ("url", "path", "query", "ref", "name", "promo_id", "promo_name", "promo_creative", "promo_slot", "order_id", "coupon",
                "props", "sid", "env_screen", "env_lang", "env_tz", "utm_source", "utm_medium", "utm_campaign", "utm_term",
                "utm_content")


def _base(kind: str = "pageview", **extra) -> dict:
    return {"type": kind, "id": uuid.uuid4().hex, "url": "https://shop.example/p", **extra}


def _text_fields(pii: str) -> list[tuple[str, dict, str, object]]:
    """(field, event, column, benign value expected stored) for free-text fields: the hostile
    value follows the benign one in the same field (or in a sibling field where the value is
    an URL)."""
    text = f"{BENIGN} {pii}"
    return [
        ("custom name", _base("custom", name=text[:200]), "name", BENIGN),
        ("promo name", _base("promo_view", promo={"id": "p1", "name": text}), "promo_name", BENIGN),
        ("promo creative", _base("promo_view", promo={"id": "p1", "creative": text}), "promo_creative", BENIGN),
        ("promo slot", _base("promo_view", promo={"id": "p1", "slot": text}), "promo_slot", BENIGN),
        ("props value", _base(props={"note": text, "keep": BENIGN}), "props", {"keep": BENIGN}),
        ("props key", _base(props={f"k {pii}"[:64]: "x", "keep": BENIGN}), "props", {"keep": BENIGN}),
        ("env lang", _base(env={"lang": pii[:35]}), "env_lang", None),
        ("env tz", _base(env={"tz": f"Europe/Paris {pii}"[:64]}), "env_tz", None),
        ("url query", _base(url=f"https://shop.example/p?keep=Blue+shoes&x={pii}"), "query", "keep=Blue%20shoes"),
        ("url path", _base(url=f"https://shop.example/u/{pii.replace(' ', '%20')}/orders"), "path", None),
        ("url fragment", _base(url=f"https://shop.example/p?keep=1#contact={pii}"), "url", "https://shop.example/p?keep=1"),
        ("ref query", _base(ref=f"https://mail.example/r?keep=1&to={pii}"), "ref", "https://mail.example/r?keep=1&to="),
        ("ref fragment", _base(ref=f"https://mail.example/r#{pii}"), "ref", "https://mail.example/r"),
        ("utm campaign", _base(url=f"https://shop.example/p?utm_campaign={pii}"), "utm_campaign", None),
        ("props url", _base(props={"landing": f"https://shop.example/l?keep=1&to={pii}#{pii}"}), "props", None),
    ]


def _id_fields(pii: str) -> list[tuple[str, dict, str, object]]:
    """Identifiers: e-mail addresses are scrubbed, nothing else (see tracker/scrub.py)."""
    return [
        ("order id", _base("purchase", order={"id": pii, "revenue": 1}), "order_id", None),
        ("coupon", _base("purchase", order={"id": "o-1", "revenue": 1, "coupon": pii}), "coupon", None),
        ("promo id", _base("promo_click", promo={"id": pii}), "promo_id", None),
        ("session id", _base(sid=pii[:64]), "sid", None),
    ]


CASES = [(f"{field} / {label}", event, column, keep, needles)
         for label, pii, needles in EMAILS + NUMBERS + CLICK_IDS
         for field, event, column, keep in _text_fields(pii)]
CASES += [(f"{field} / {label}", event, column, keep, needles)
          for label, pii, needles in EMAILS
          for field, event, column, keep in _id_fields(pii)]
# Benign identifiers and numbers are stored exactly as sent.
KEPT = [
    ("numeric order id", _base("purchase", order={"id": "100234567890", "revenue": 1}), "order_id", "100234567890"),
    ("coupon with digits", _base("purchase", order={"id": "o-2", "revenue": 1, "coupon": "WELCOME-2026-0001"}), "coupon", "WELCOME-2026-0001"),
    ("benign name", _base("custom", name=BENIGN), "name", BENIGN),
    ("numeric sid", _base(sid="1767225600123-7f3a"), "sid", "1767225600123-7f3a"),
    ("plain path", _base(url="https://shop.example/blog/2026-03-02/post-12?page=2&q=red+shoes"), "query", "page=2&q=red%20shoes"),
    ("props number", _base(props={"qty": 3, "price": 12.5, "gift": True}), "props", {"qty": "3", "price": "12.5", "gift": "true"}),
]


def _store(client, runtime, site: str, events: list[dict]) -> dict[str, dict]:
    for i in range(0, len(events), 100):
        r = client.post("/api/collect", content=orjson.dumps({"site": site, "events": events[i:i + 100]}),
                        headers={"Content-Type": "text/plain"})
        assert r.status_code == 202 and r.json()["accepted"] == len(events[i:i + 100]), r.text
    flush(runtime)
    rows = runtime.storage.dicts(f"SELECT event_id, {', '.join(TEXT_COLUMNS)} FROM events WHERE site = {{site:String}}", {"site": site})
    return {r.pop("event_id"): r for r in rows}


def test_nothing_recognisable_is_stored_and_nothing_else_is_mangled(client, runtime, new_site):
    site = new_site()
    rows = _store(client, runtime, site, [c[1] for c in CASES] + [k[1] for k in KEPT])
    leaks, mangled = [], []
    for label, event, column, keep, needles in CASES:
        row = rows[event["id"]]
        text = orjson.dumps({c: row[c] for c in TEXT_COLUMNS}).decode()
        leaks += [(label, n, row[column]) for n in needles if n in text]
        if keep is not None:
            value = row[column]
            ok = all(value.get(k) == v for k, v in keep.items()) if isinstance(keep, dict) else str(value).startswith(keep)
            if not ok:
                mangled.append((label, column, value))
    assert not leaks, leaks
    assert not mangled, mangled
    for label, event, column, keep in KEPT:
        value = rows[event["id"]][column]
        assert (all(value.get(k) == v for k, v in keep.items()) if isinstance(keep, dict) else value == keep), (label, value)


def test_the_issues_example(client, runtime, new_site):
    """`x=henry+news@example.com` was stored as `x=henry%20[email]`."""
    site = new_site()
    event = _base(url="http://shop.example/z?x=henry+news@example.com")
    row = _store(client, runtime, site, [event])[event["id"]]
    assert row["query"] == "x=[email]" and "henry" not in row["url"]


@pytest.mark.parametrize("key", ["email", "phone", "password", "gclid", "fbclid"])
def test_props_named_like_a_secret_are_redacted(client, runtime, new_site, key):
    site = new_site()
    event = _base(props={key: "anything-at-all", "name": "Blue shoes"})
    props = _store(client, runtime, site, [event])[event["id"]]["props"]
    assert props == {key: "[redacted]", "name": "Blue shoes"}
