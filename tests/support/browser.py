"""Fixtures for tests that need real servers or a browser: `tracker_server` (a `tracker serve`
subprocess on its own data dir and port), `shop` (static pages on another origin), `chromium`
(one Debian headless Chromium per test module) and `browser_context`. Registered by the root
conftest (`pytest_plugins`), so tests use them without importing another test package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.servers import CHROMIUM, CHROMIUM_ARGS, ShopServer, TrackerServer, free_port


@pytest.fixture
def tracker_server(tmp_path):
    server = TrackerServer(tmp_path / "data", free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def shop(tmp_path):
    server = ShopServer(tmp_path / "shop")
    yield server
    server.close()


@pytest.fixture(scope="module")
def chromium():
    """One browser per test module. Not per session: Playwright's sync API keeps an event loop
    running in the main thread while it is open, which other modules' asyncio code must not see."""
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def browser_context(chromium):
    context = chromium.new_context(viewport={"width": 1000, "height": 700})
    yield context
    context.close()
