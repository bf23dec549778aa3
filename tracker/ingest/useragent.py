"""User-Agent parsing with a cache that fits real traffic.

`user_agents.parse` costs ~0.6 ms uncached and its own cache holds 200 entries; a shop sees
thousands of distinct UAs a day but most requests repeat a few hundred, so an LRU of tens of
thousands of entries answers nearly every request in well under a microsecond.

Bots: user-agents' `is_bot` plus crawler words it misses. HTTP libraries (curl,
python-requests, httpx) are *not* bots here: server-side senders are legitimate (/api/collect
accepts requests without an Origin); they are flagged `scripted` and the trust wing takes note
of them instead. Headless browsers are flagged separately.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import user_agents

from tracker.vocabulary import SCRIPTED_CLIENT

MAX_UA_LEN = 512
CRAWLER = re.compile(
    r"(?i)(bot\b|bot/|crawler|spider|slurp|scrapy|facebookexternalhit|embedly|preview|"
    r"lighthouse|pingdom|uptime|monitor|headlesschrome.*bot|archive\.org|ia_archiver|semrush|ahrefs|mj12|dotbot|petalbot|bytespider|gptbot|ccbot)"
)
HEADLESS = re.compile(r"(?i)(headlesschrome|phantomjs|puppeteer|playwright|selenium|webdriver|electron|slimerjs|htmlunit|zombie\.js|jsdom)")
SCRIPTED = re.compile(SCRIPTED_CLIENT)  # the vocabulary's: the trust wing matches stored agents against the same pattern


@dataclass(frozen=True, slots=True)
class Agent:
    ua: str
    browser: str
    version: str
    os: str
    device: str  # one of tracker.vocabulary.DEVICES
    is_bot: bool
    headless: bool
    scripted: bool


def _parse(ua: str) -> Agent:
    ua = ua[:MAX_UA_LEN]
    if not ua.strip():
        return Agent("", "", "", "", "other", False, False, True)
    parsed = user_agents.parse(ua)
    headless = bool(HEADLESS.search(ua))
    scripted = bool(SCRIPTED.search(ua))
    is_bot = bool(parsed.is_bot or CRAWLER.search(ua)) and not scripted
    if is_bot:
        device = "bot"
    elif parsed.is_tablet:
        device = "tablet"
    elif parsed.is_mobile:
        device = "mobile"
    elif parsed.is_pc:
        device = "desktop"
    else:
        device = "other"
    browser = parsed.browser.family or ""
    return Agent(
        ua=ua,
        browser=browser[:64],
        version=(parsed.browser.version_string.split(".")[0] if parsed.browser.version_string else "")[:16],
        os=(parsed.os.family or "")[:64],
        device=device,
        is_bot=is_bot,
        headless=headless,
        scripted=scripted,
    )


class AgentParser:
    def __init__(self, cache_size: int):
        self.parse = lru_cache(maxsize=cache_size)(_parse)
