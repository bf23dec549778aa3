"""The /demo shop pages: served, embedding the snippet tag of docs/snippet.md for site `demo`."""

from __future__ import annotations

import re

import pytest

SNIPPET_TAG = '<script defer src="/snippet.js" data-site="demo"></script>'
STUB = "<script>window.tracker=window.tracker||function(){(tracker.q=tracker.q||[]).push(arguments)}</script>"


@pytest.fixture(scope="module", autouse=True)
def demo_site(runtime):
    runtime.sites.ensure("demo", ["http://testserver"])


@pytest.mark.parametrize(
    "path",
    ["/demo", "/demo/", "/demo/category/shoes", "/demo/category/bags", "/demo/product/SH-101", "/demo/cart", "/demo/checkout", "/demo/thank-you?order=ORD-1"],
)
def test_every_demo_page_embeds_the_snippet(client, path):
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert STUB in page.text and SNIPPET_TAG in page.text
    assert "/dashboard" in page.text and 'id="sent-log"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_home_has_a_hero_promo_with_holdout_and_registers_it(client, runtime):
    page = client.get("/demo").text
    hero = re.search(r'<section class="hero" id="hero"([^>]*)>', page).group(1)
    assert 'data-promo-id="SUMMER"' in hero and 'data-promo-slot="home_hero"' in hero
    assert 'data-demo-assign="SUMMER"' in page  # demo.js calls tracker('assign', 'SUMMER', ...)
    assert 'data-promo-id="FREESHIP"' in page
    from tracker.promos.registry import Promos

    promo = Promos(runtime.storage).get("demo", "SUMMER")
    assert promo is not None and promo.holdout_pct == 10.0 and promo.coupons == ("SUMMER20",)


def test_thank_you_page_sends_the_purchase(client):
    script = client.get("/demo/assets/demo.js")
    assert script.status_code == 200
    assert "tracker('purchase', { id: order, revenue: revenue, currency: 'USD'" in script.text
    assert client.get("/demo/assets/demo.css").status_code == 200


@pytest.mark.parametrize("path", ["/demo/category/socks", "/demo/product/NOPE", "/demo/assets/missing.js"])
def test_unknown_demo_pages_are_404(client, path):
    assert client.get(path).status_code == 404
