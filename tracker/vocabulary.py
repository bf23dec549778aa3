"""The words both wings use: site ids, event types, agent classes, cookie names, the
scripted-client pattern.

Ingest writes these values into the events table and the reports read them back, so they
live here, outside both wings, rather than in one wing with a hand copy in the other. Only
constants and checks on them; nothing here holds state or imports another part of tracker
beyond `errors`.
"""

from __future__ import annotations

import re

from tracker.errors import BadRequest

# --- site ids ----------------------------------------------------------------------------------
MAX_SITE_LEN = 64
SITE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SITE_RE = re.compile(SITE_PATTERN)
SITE_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def is_site_id(value: object) -> bool:
    return isinstance(value, str) and SITE_RE.match(value) is not None


def check_site_id(value: object, name: str = "site") -> str:
    """`value` if it is a site id, else BadRequest with the one message every door gives."""
    if not is_site_id(value):
        raise BadRequest(f"{name} must be a site id: {SITE_RULE}")
    return value  # type: ignore[return-value]


# --- events ------------------------------------------------------------------------------------
EVENT_TYPES = ("pageview", "promo_view", "promo_click", "add_to_cart", "checkout", "purchase", "custom")
PROMO_TYPES = frozenset({"promo_view", "promo_click"})
VARIANTS = frozenset({"exposed", "holdout"})

# --- user agents -------------------------------------------------------------------------------
# `ua_device` of a stored event: what `tracker.ingest.useragent` classifies an agent as.
DEVICES = ("desktop", "mobile", "tablet", "bot", "other")

# HTTP libraries and command-line clients. Ingest deliberately does not call these bots
# (server-side senders are legitimate: /api/collect accepts requests without an Origin); it
# flags them as `scripted`, and the trust wing's `scripted_client` reason matches the stored
# user agent against the same pattern in ClickHouse (re2 reads it as Python's `re` does).
SCRIPTED_CLIENT = (
    r"(?i)^(curl|wget|python-requests|python-httpx|python-urllib|aiohttp|go-http-client|java/|okhttp|"
    r"libwww-perl|axios|node-fetch|undici|httpie|postmanruntime|insomnia)"
)

# --- cookies -----------------------------------------------------------------------------------
COOKIE_NAME = "_tid"  # the signed first-party visitor id (tracker.ingest.visitor_id)
OPTOUT_COOKIE = "_tid_optout"  # set by POST /api/opt-out: nothing is stored for this browser
