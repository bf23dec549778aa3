"""Refresh docs/screenshots/: start `tracker serve --demo` on a throwaway data dir, sign in with
headless Chromium and save a picture of every dashboard page (laptop size, plus the overview
and funnel at phone size).

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--keep-server]

Uses Debian's /usr/bin/chromium through Playwright; never downloads a browser.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
FUNNEL = '[{"type":"pageview","path":"/"},{"type":"promo_click"},{"type":"add_to_cart"},{"type":"checkout"},{"type":"purchase"}]'
PAGES = [
    ("overview", "/dashboard"),
    ("overview-7-days", "/dashboard?range=7"),
    ("sources", "/dashboard/sources"),
    ("sources-filtered", "/dashboard/sources?filter=device:mobile"),
    ("devices", "/dashboard/devices"),
    ("now", "/dashboard/now?traffic=all"),
    ("pages", "/dashboard/pages"),
    ("paths", "/dashboard/paths?start=/"),
    ("funnel", "/dashboard/funnel?steps=" + FUNNEL),
    ("promotions", "/dashboard/promotions?model=linear"),
    ("campaigns", "/dashboard/campaigns"),
    ("lift", "/dashboard/lift"),
    ("trust-visitors", "/dashboard/trust"),
    ("trust-promotions", "/dashboard/trust/promotions"),
    ("trust-coupons", "/dashboard/trust/coupons"),
    ("trust-networks", "/dashboard/trust/networks"),
]
PHONE = [("phone-overview", "/dashboard"), ("phone-funnel", "/dashboard/funnel?steps=" + FUNNEL), ("phone-trust", "/dashboard/trust"),
         ("phone-sources", "/dashboard/sources")]


def browse_demo(browser, base: str) -> None:
    """A few shoppers on the demo shop (its snippet sends to this tracker), so the Now page
    shows the last minutes. Playwright's Chromium says navigator.webdriver, so they count under
    all traffic only (the Now screenshot uses traffic=all)."""
    for n, (path, ref) in enumerate([("/demo", "https://news.example/"), ("/demo/category/shoes", ""), ("/demo/product/SH-101", "https://www.google.com/")]):
        context = browser.new_context(viewport={"width": 1200, "height": 800}, extra_http_headers={"Referer": ref} if ref else {})
        page = context.new_page()
        page.goto(base + path)
        page.wait_for_timeout(1500)
        if n == 2:
            page.goto(base + "/demo/cart")
            page.wait_for_timeout(1200)
        context.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "TRACKER_RATE_REPORTS_PER_TOKEN": "0", "TRACKER_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker", "serve", "--demo", "--data", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=open(data.parent / "serve.log", "wb"), env=env, cwd=ROOT,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tracker serve exited: {(data.parent / 'serve.log').read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("tracker serve did not start")


def settle(page) -> None:
    """Wait until no panel is loading any more (and charts have drawn)."""
    page.wait_for_load_state("networkidle")
    from playwright.sync_api import expect

    expect(page.locator(".panel[data-state=loading]")).to_have_count(0, timeout=60_000)
    page.wait_for_timeout(300)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--keep-server", action="store_true", help="leave the server running (prints its URL and token)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="tracker-shots-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(tmp / "data", port)
    try:
        token = (tmp / "data" / "cli_token").read_text().strip()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": 1366, "height": 860}, device_scale_factor=1)
            page = context.new_page()
            browse_demo(browser, base)
            page.goto(base + "/dashboard/login")
            page.screenshot(path=str(out / "login.png"))
            login_phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
            lp = login_phone.new_page()
            lp.goto(base + "/dashboard/login")
            lp.screenshot(path=str(out / "phone-login.png"))
            lp.goto(base + "/demo")
            lp.wait_for_timeout(1500)
            lp.screenshot(path=str(out / "phone-demo.png"))
            login_phone.close()
            page.fill("input[name=token]", token)
            page.click("button[type=submit]")
            page.wait_for_url("**/dashboard")
            for name, path in PAGES:
                page.goto(base + path)
                settle(page)
                page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                print("saved", out / f"{name}.png")
            page.goto(base + "/dashboard/trust")
            settle(page)
            link = page.locator("#visitors-table a").first
            if link.count():
                link.click()
                settle(page)
                page.screenshot(path=str(out / "trust-visitor.png"), full_page=True)
                print("saved", out / "trust-visitor.png")
            # A site with no event yet: the page shows the snippet tag to install instead.
            httpx.post(f"{base}/api/admin/sites", json={"site": "new-shop", "origins": ["https://new-shop.example"]},
                       headers={"Authorization": f"Bearer {token}"}, timeout=30).raise_for_status()
            page.goto(base + "/dashboard?site=new-shop")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(out / "empty-site.png"), full_page=True)
            print("saved", out / "empty-site.png")
            phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)
            phone.add_cookies(context.cookies())
            ppage = phone.new_page()
            for name, path in PHONE:
                ppage.goto(base + path)
                settle(ppage)
                ppage.screenshot(path=str(out / f"{name}.png"), full_page=True)
                print("saved", out / f"{name}.png")
            browser.close()
        if args.keep_server:
            print(f"server: {base}  token: {token}  (pid {proc.pid}; stop with kill {proc.pid})")
            return 0
    finally:
        if not args.keep_server:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
