"""URL handling at ingest: split, scrub PII, extract UTM tags and click-id kinds.

What is kept: scheme, host, path and the query with personal data removed. Emails anywhere,
long digit runs in query values (phone, card, account numbers), values of parameters whose
name says they are secret or personal, and click ids (gclid, fbclid, ...: identifiers of a
person at an ad network) never reach storage; for click ids only *which kind* was present is
kept. Fragments are dropped: they often carry tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urlsplit

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
LONG_DIGITS = re.compile(r"\d[\d\s().-]{7,}\d")  # 9+ characters of digits and separators
SECRET_PARAM = re.compile(
    r"(?i)^(e-?mail|mail|password|passwd|pwd|pass|token|access_token|auth|session|sessionid|phone|tel|mobile|name|first_?name|"
    r"last_?name|address|card|cc|ssn|iban|secret|api_?key|key|code)$"
)
CLICK_IDS = ("gclid", "gbraid", "wbraid", "dclid", "fbclid", "msclkid", "ttclid", "twclid", "li_fat_id", "yclid", "mc_eid")
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
    value = EMAIL.sub("[email]", value)
    return LONG_DIGITS.sub("[number]", value)


@lru_cache(maxsize=20_000)
def parse_page_url(raw: str) -> PageUrl:
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
    except ValueError:
        return PageUrl("", "", "/", "", ("", "", "", "", ""), "")
    path = scrub_text(parts.path or "/")
    kept: list[str] = []
    utm = dict.fromkeys(UTM, "")
    click = ""
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        lower = key.lower()
        if lower in utm:
            tag = scrub_text(value.strip())[:MAX_TAG_LEN]
            utm[lower] = tag.lower() if lower in ("utm_source", "utm_medium") else tag
            kept.append(f"{quote(key)}={quote(utm[lower], safe='')}")
            continue
        if lower in CLICK_IDS:
            click = click or lower
            continue
        if SECRET_PARAM.match(key):
            kept.append(f"{quote(key)}=[redacted]")
            continue
        kept.append(f"{quote(scrub_text(key), safe='[]')}={quote(scrub_text(value), safe='[]')}")
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
