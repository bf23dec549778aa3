"""Bot detection measured on public corpora the project did not write (issue #14).

- Crawlers: crawler-user-agents' instances (2,000+ real crawler agents). Its patterns were
  written from those very instances, so testing with all of them proves little; the held-out
  test leaves a fifth of the patterns out of the detector (chosen by a hash of the pattern)
  and measures the instances of exactly those patterns.
- Browsers: fake-useragent's list of real browser agents with their traffic shares (a
  test-only dependency), plus hand-picked agents that fooled the old substring rules.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import crawleruseragents
import fake_useragent
import pytest

from tracker.ingest.useragent import AgentParser, BotDetector


def _held_out(pattern: str) -> bool:
    return hashlib.sha256(pattern.encode()).digest()[0] % 5 == 0


def _flagged(agent) -> bool:
    # A crawler counts as caught if ingest calls it a bot, headless, or a scripted client
    # (HTTP libraries are excluded by the trust wing's scripted_pageviews instead).
    return agent.is_bot or agent.headless or agent.scripted


DATA = crawleruseragents.CRAWLER_USER_AGENTS_DATA
BROWSERS = [json.loads(line) for line in (Path(fake_useragent.__file__).parent / "data" / "browsers.jsonl").read_text().splitlines()]
REAL_BROWSERS = (  # real devices and in-app browsers whose names look like crawler words
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 9; CUBOT_P30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11; KINGKONG 7) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0 Mobile Safari/537.36 CUBOT",
    "Mozilla/5.0 (Linux; Android 12; Redmi Note 11) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 YaBrowser/23.11 Mobile Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/460.0]",
    "Mozilla/5.0 (Linux; Android 13; Pixel 7; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120 Mobile Safari/537.36 Instagram 300.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    "Mozilla/5.0 (Linux; U; Android 10; ru-ru; Redmi 9) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/89 Mobile Safari/537.36 XiaoMi/MiuiBrowser/13.2",
)


@pytest.fixture(scope="module")
def held_out_parser():
    return AgentParser(10_000, BotDetector(e["pattern"] for e in DATA if not _held_out(e["pattern"])))


def test_crawlers_of_held_out_patterns_are_flagged(held_out_parser):
    agents = [ua for e in DATA if _held_out(e["pattern"]) for ua in e.get("instances", [])]
    assert len(agents) > 300
    caught = sum(_flagged(held_out_parser.parse(ua)) for ua in agents)
    assert caught / len(agents) >= 0.97, caught / len(agents)


def test_every_crawler_instance_is_flagged_with_the_full_lists():
    parser = AgentParser(10_000)
    agents = [ua for e in DATA for ua in e.get("instances", [])]
    missed = [ua for ua in agents if not _flagged(parser.parse(ua))]
    assert len(missed) / len(agents) <= 0.005, missed[:10]


@pytest.mark.parametrize("parser", ["all", "held_out"])
def test_real_browsers_by_traffic_share_are_not_flagged(parser, held_out_parser):
    p = held_out_parser if parser == "held_out" else AgentParser(10_000)
    total = sum(b["percent"] for b in BROWSERS)
    flagged = [b for b in BROWSERS if _flagged(p.parse(b["useragent"]))]
    assert sum(b["percent"] for b in flagged) / total <= 0.005, [b["useragent"] for b in flagged[:10]]


@pytest.mark.parametrize("ua", REAL_BROWSERS)
def test_browsers_with_crawler_like_words_are_not_bots(ua):
    agent = AgentParser(100).parse(ua)
    assert not (agent.is_bot or agent.scripted or agent.headless)
    assert agent.device in ("mobile", "desktop", "tablet")


@pytest.mark.parametrize("ua", [
    "Mozilla/5.0 (compatible; Newfangledbot; +https://example.net/bot)",  # in no list: our word rule
    "Examplecrawler/0.3 (+https://example.net)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
])
def test_crawlers_are_bots(ua):
    agent = AgentParser(100).parse(ua)
    assert agent.is_bot and agent.device == "bot"


@pytest.mark.parametrize("ua", ["curl/8.5.0", "python-requests/2.31.0", "Go-http-client/2.0", "okhttp/4.12.0", "Java/17.0.2"])
def test_http_libraries_are_scripted_not_bots(ua):
    agent = AgentParser(100).parse(ua)
    assert agent.scripted and not agent.is_bot
