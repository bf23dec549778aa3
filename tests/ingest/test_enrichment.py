"""Identity, network and URL enrichment as pure units."""

from __future__ import annotations

import re

import pytest

from tracker.ingest.network import DailySalt, Network
from tracker.ingest.urls import parse_page_url, scrub_text
from tracker.ingest.useragent import AgentParser
from tracker.ingest.visitor_id import VisitorIds, load_keys


def test_cookie_keys_rotate_without_logging_visitors_out(tmp_path):
    old = VisitorIds([b"old-key"])
    vid, cookie = old.new()
    rotated = VisitorIds([b"new-key", b"old-key"])
    assert rotated.verify(cookie) == vid  # signed by the old key, still valid
    new_vid, new_cookie = rotated.new()
    assert VisitorIds([b"new-key"]).verify(new_cookie) == new_vid
    assert VisitorIds([b"new-key"]).verify(cookie) is None  # the old key dropped: a new id


@pytest.mark.parametrize("cookie", ["", "garbage", "a.b.c", "a.b", "x" * 100, "abc.zzzzzz.AAAAAAAAAAAAAAAA", "é.é.é"])
def test_malformed_cookies_never_verify(cookie):
    assert VisitorIds([b"k"]).verify(cookie) is None


def test_identify_mints_and_flags_forgeries():
    ids = VisitorIds([b"k"])
    identity, value = ids.identify(None)
    assert identity.is_new and not identity.forged and ids.verify(value) == identity.vid
    identity2, value2 = ids.identify(value)
    assert identity2.vid == identity.vid and value2 is None
    vid, kid, mac = value.split(".")
    forged, _ = ids.identify(f"{vid}.{kid}.{mac[:-2]}AA")
    assert forged.forged and forged.vid != vid


def test_keys_live_in_the_data_dir_with_owner_only_permissions(tmp_path):
    keys = load_keys("", tmp_path)
    assert load_keys("", tmp_path) == keys
    assert oct((tmp_path / "secrets.json").stat().st_mode & 0o777) == "0o600"
    assert load_keys("a,b", tmp_path) == [b"a", b"b"]


def network(tmp_path, proxies=()) -> Network:
    return Network(trusted_proxies=proxies, v4_prefix=24, v6_prefix=48, salt=DailySalt(tmp_path / "salt.json"))


def test_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path):
    direct = network(tmp_path)
    assert direct.client_ip("203.0.113.5", "1.2.3.4") == "203.0.113.5"
    proxied = network(tmp_path, ("10.0.0.0/8",))
    assert proxied.client_ip("10.1.1.1", "1.2.3.4, 10.2.2.2") == "1.2.3.4"
    assert proxied.client_ip("203.0.113.5", "1.2.3.4") == "203.0.113.5"  # peer is not a proxy
    assert proxied.client_ip("10.1.1.1", "10.2.2.2") == "10.1.1.1"


def test_prefixes_and_daily_salted_hashes(tmp_path):
    net = network(tmp_path)
    prefix, digest = net.describe("203.0.113.77")
    assert prefix == "203.0.113.0/24" and re.fullmatch(r"[0-9a-f]{16}", digest)
    assert net.describe("203.0.113.78")[0] == prefix and net.describe("203.0.113.78")[1] != digest
    assert net.describe("2001:db8:abcd:12::1")[0] == "2001:db8:abcd::/48"
    assert net.describe("::ffff:198.51.100.4")[0] == "198.51.100.0/24"
    assert net.describe("testclient") == ("", "")
    # A second process on the same day shares the salt (the file), so hashes agree.
    assert network(tmp_path).describe("203.0.113.77") == (prefix, digest)


@pytest.mark.parametrize(
    ("raw", "path", "query"),
    [
        ("https://s.example/a/b?x=1#frag", "/a/b", "x=1"),
        ("https://s.example", "/", ""),
        ("https://s.example/u/john@doe.com/x", "/u/[email]/x", ""),
        ("https://s.example/?email=a%40b.co&token=abc&card=4111111111111111", "/", "email=[redacted]&token=[redacted]&card=[redacted]"),
        ("https://s.example/?q=4111%201111%201111%201111", "/", "q=[number]"),
        ("https://s.example/?fbclid=XYZ&a=1", "/", "a=1"),
    ],
)
def test_urls_are_scrubbed(raw, path, query):
    page = parse_page_url(raw)
    assert (page.path, page.query) == (path, query)
    assert "#" not in page.url


def test_utm_and_click_ids():
    page = parse_page_url("https://s.example/l?utm_source=NewsLetter&utm_medium=EMAIL&utm_campaign=Spring%20Sale&gclid=abc")
    assert page.utm[:3] == ("newsletter", "email", "Spring Sale") and page.click_id_type == "gclid"
    assert scrub_text("call +33 6 12 34 56 78") == "call [number]"


def test_user_agents():
    parse = AgentParser(100).parse
    chrome = parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
    assert (chrome.browser, chrome.device, chrome.is_bot, chrome.headless) == ("Chrome", "desktop", False, False)
    headless = parse("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36")
    assert headless.headless and not headless.is_bot
    bot = parse("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)")
    assert bot.is_bot and bot.device == "bot"
    curl = parse("curl/8.4.0")
    assert curl.scripted and not curl.is_bot  # server-side senders are legitimate
    assert parse("").scripted
