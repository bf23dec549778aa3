"""URL handling at ingest: split, scrub PII, extract UTM tags and click-id kinds.

What is kept: scheme, host, path and the query with personal data removed. Emails anywhere,
long digit runs in query values (phone, card, account numbers), values of parameters whose
name says they are secret or personal, and click ids (gclid, fbclid, ...: identifiers of a
person at an ad network) never reach storage; for click ids only *which kind* was present is
kept. Fragments are dropped: they often carry tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, unquote, unquote_plus, urlsplit

from tracker.scrub import CLICK_IDS, SECRET_PARAM, scrub

UTM = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_TAG_LEN = 200


@dataclass(frozen=True, slots=True)
class PageUrl:
    url: str
    host: str
    path: str
    query: str
    utm: tuple[str, str, str, str, str]
    click_id_type: str


def scrub_text(value: str) -> str:
    """Free text scrubbed (`tracker.scrub.scrub`; kept under this name for callers)."""
    return scrub(value)


def query_pairs(query: str) -> list[tuple[str, str]]:
    """`parse_qsl(query, keep_blank_values=True)` with every key and value scrubbed.

    Why not parse first: form encoding turns `+` into a space, so `henry+news@example.com`
    would be scrubbed as `henry [email]` and the local part kept. Each raw value is scrubbed
    with `+` kept as a `+` (a plus-addressed e-mail, a `+33 6…` phone) and, if that finds
    nothing, as form decoding reads it (`+` a space, as before)."""
    pairs = []
    for raw in query.split("&"):
        if not raw:
            continue
        raw_key, _, raw_value = raw.partition("=")
        key = scrub(unquote_plus(raw_key))
        literal = unquote(raw_value)
        cleaned = scrub(literal)
        pairs.append((key, cleaned if cleaned != literal else scrub(unquote_plus(raw_value))))
    return pairs


@lru_cache(maxsize=20_000)
def parse_page_url(raw: str) -> PageUrl:
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
    except ValueError:
        return PageUrl("", "", "/", "", ("", "", "", "", ""), "")
    path = scrub(parts.path or "/")
    kept: list[str] = []
    utm = dict.fromkeys(UTM, "")
    click = ""
    for key, value in query_pairs(parts.query):
        lower = key.lower()
        if lower in utm:
            tag = value.strip()[:MAX_TAG_LEN]
            utm[lower] = tag.lower() if lower in ("utm_source", "utm_medium") else tag
            kept.append(f"{quote(key)}={quote(utm[lower], safe='')}")
            continue
        if lower in CLICK_IDS:
            click = click or lower
            continue
        if SECRET_PARAM.match(key):
            kept.append(f"{quote(key)}=[redacted]")
            continue
        kept.append(f"{quote(key, safe='[]')}={quote(value, safe='[]')}")
    query = "&".join(kept)
    netloc = host + (f":{parts.port}" if _safe_port(parts) else "")
    url = f"{parts.scheme}://{netloc}{quote(path, safe='/%:@!$&()*+,;=-._~[]')}" + (f"?{query}" if query else "")
    return PageUrl(url, host, path, query, tuple(utm[k] for k in UTM), click)  # type: ignore[arg-type]


def _safe_port(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


@lru_cache(maxsize=20_000)
def parse_referrer(raw: str) -> tuple[str, str]:
    """(scrubbed referrer URL, host)."""
    if not raw:
        return "", ""
    page = parse_page_url(raw)
    return page.url, page.host
