"""The one PII scrub: every free-text value a client sends goes through `scrub` before storage.

Used for the page URL (path, every query key and value, UTM tags), the referrer, the custom
event name, promotion names, creatives and slots, props keys and values, the environment
strings (`tracker/ingest/rows.py`, `tracker/ingest/urls.py`); identifiers (order id, coupon,
promotion id, session id) take `scrub(value, ID)`.

What is replaced, wherever it stands in a value:
- e-mail addresses, also plus-addressed (`henry+news@…`), percent-encoded (`%40`, `%2540`, an
  encoded local part or domain) → `[email]`;
- in text (not in identifiers): runs of 9 or more digits with the separators phones and card
  numbers are written with (spaces, `.`, `-`, `(`, `)`, `%20`; a leading `+`) → `[number]`. A run glued
  to a word (`a716-446655440000` in a UUID, `sku-123456789`) is part of an identifier and kept;
  dates (8 digits), prices, versions and short numbers never reach 9 digits in one run;
- `gclid=…`, `fbclid=…` and the other ad click ids, and values of `email=`, `password=`,
  `token=`, `phone=`, … written inside text → `name=[redacted]`.

Identifiers get the e-mail rule only: an order id `100234567890` is an order id (the backend's
confirmations join on it), not a phone number, and mangling it would break that join.

A value that is percent-encoded is also checked decoded, so `%68enry%40example%2Ecom` does not
slip through; when the decoded text holds PII, the scrubbed decoded text is stored.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

TEXT, ID = "text", "id"

CLICK_IDS = ("gclid", "gbraid", "wbraid", "dclid", "fbclid", "msclkid", "ttclid", "twclid", "li_fat_id", "yclid", "mc_eid")
SECRET_NAMES = (
    r"e-?mail|mail|password|passwd|pwd|pass|token|access_token|auth|session|sessionid|phone|tel|mobile|name|first_?name|"
    r"last_?name|address|card|cc|ssn|iban|secret|api_?key|key|code"
)
# A query parameter or props key whose *name* says its value is personal or secret.
SECRET_PARAM = re.compile(rf"(?i)^(?:{SECRET_NAMES})$")
CLICK_ID_PARAM = re.compile(rf"(?i)^(?:{'|'.join(CLICK_IDS)})$")
# Props keys: the same, less the generic words a shop's own props use for products and offers
# (`name`, `code`, `key`: {"name": "Blue shoes"}); their values are still scrubbed as text.
SECRET_PROP = re.compile(r"(?i)^(?:e-?mail|mail|password|passwd|pwd|pass|token|access_token|auth|session|sessionid|phone|tel|"
                         r"mobile|first_?name|last_?name|full_?name|address|card|cc|ssn|iban|secret|api_?key)$")

_AT = r"(?:@|%40|%2540)"
EMAIL = re.compile(rf"[A-Za-z0-9._%+-]+{_AT}[A-Za-z0-9%-]+(?:\.[A-Za-z0-9%-]+)*\.[A-Za-z]{{2,}}")
_SEP = r"(?:[\s().-]|%20)"  # `+` only leads (`+33 …`): inside, it would glue a price to a phone
# 9+ digits, separators between; not glued to a word before (`x1`, `x1-`) or after.
NUMBER = re.compile(rf"(?<!\w)(?<!\w-)(?:\+|%2[bB])?\(?\d(?:{_SEP}{{0,3}}\d){{8,}}(?!\w)")
# `name=value` inside free text (a URL pasted into a prop, a query string in a name).
NAMED = re.compile(rf"(?i)(?<![A-Za-z0-9_])((?:{'|'.join(CLICK_IDS)}|{SECRET_NAMES})=)[^&#\s]+")
_MAYBE = re.compile(r"@|%4|%25|\d\D{0,3}\d\D{0,3}\d|=")  # cheap test: could any rule apply?


def _text(value: str) -> str:
    value = EMAIL.sub("[email]", value)
    value = NAMED.sub(r"\1[redacted]", value)
    return NUMBER.sub("[number]", value)


def _id(value: str) -> str:
    return EMAIL.sub("[email]", value)


@lru_cache(maxsize=32_768)
def scrub(value: str, kind: str = TEXT) -> str:
    """`value` with every PII pattern replaced (see the module docstring); `kind` is TEXT for
    free text, ID for identifiers (e-mail addresses only). Cached: a shop's values repeat
    (promotion names, props, session ids), and a cache hit costs less than one regex search."""
    if not value or not _MAYBE.search(value):
        return value
    rule = _text if kind == TEXT else _id
    cleaned = rule(value)
    if "%" in value:
        decoded = unquote(value)
        if decoded != value and rule(decoded) != decoded:
            return rule(decoded)  # PII only visible once decoded
    return cleaned


def scrub_props(props: dict) -> dict:
    """Props with keys and string values scrubbed (see `_scrub_props`). Cached by content: a
    page sends the same few props over and over; the answer is shared, never mutated."""
    # The key carries each value's type: True == 1 == 1.0 as dict keys, but not as stored props.
    return _cached_props(tuple([(k, v.__class__, v) for k, v in props.items()]))


@lru_cache(maxsize=16_384)
def _cached_props(items: tuple) -> dict:
    return _scrub_props({k: v for k, _, v in items})


def _scrub_props(props: dict) -> dict:
    """Props with keys and string values scrubbed, and values of keys that name a secret or a
    click id (`email`, `phone`, `gclid`, ...; `SECRET_PROP`) redacted, as in a query string. Numbers that look
    like a phone or card number become the string `[number]`."""
    out = {}
    for key, value in props.items():
        clean_key, redact = _prop_key(key)
        if redact:
            out[clean_key] = "[redacted]"
        elif value.__class__ is str:
            out[clean_key] = scrub(value)
        elif value.__class__ is int and abs(value) >= 100_000_000:
            out[clean_key] = value if scrub(str(value)) == str(value) else "[number]"
        else:
            out[clean_key] = value
    return out


@lru_cache(maxsize=10_000)
def _prop_key(key: str) -> tuple[str, bool]:
    """(the key scrubbed, whether its value is redacted): keys repeat, so this is cached."""
    return scrub(key), bool(SECRET_PROP.match(key) or CLICK_ID_PARAM.match(key))
