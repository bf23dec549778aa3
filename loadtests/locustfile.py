"""Locust scenario for /api/collect: browsing visitors sending batches the way the snippet does.

    .venv/bin/locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 --headless -u 200 -r 50 -t 60s

Each simulated visitor keeps its `_tid` cookie (as a browser does), sends a pageview batch per
page, sometimes promo views/clicks and a purchase. Set SITE (default demo) and BATCH (events
per request, default 5). For raw throughput numbers use bench_collect.py (wrk): locust's own
Python client costs more CPU than the server on a 2-core machine.
"""

from __future__ import annotations

import os
import random
import uuid

import orjson
from locust import FastHttpUser, between, task

SITE = os.environ.get("SITE", "demo")
BATCH = int(os.environ.get("BATCH", "5"))
PAGES = ["/", "/category/kitchen", "/product/kettle", "/product/toaster", "/cart", "/checkout"]
PROMOS = ["SUMMER", "FREESHIP", "BUNDLE"]


def event(kind: str, path: str, **extra) -> dict:
    return {"type": kind, "id": str(uuid.uuid4()), "url": f"https://shop.example{path}", "env": {"webdriver": False, "screen": "1920x1080", "lang": "en-US", "tz": "Europe/Paris"}, **extra}


class Shopper(FastHttpUser):
    wait_time = between(0.5, 2)

    def send(self, events: list[dict]) -> None:
        body = orjson.dumps({"site": SITE, "events": events})
        with self.client.post("/api/collect", data=body, headers={"Content-Type": "text/plain"}, catch_response=True) as r:
            if r.status_code != 202:
                r.failure(f"status {r.status_code}")

    @task(10)
    def browse(self) -> None:
        path = random.choice(PAGES)
        events = [event("pageview", path)]
        while len(events) < BATCH:
            promo = random.choice(PROMOS)
            events.append(event("promo_view", path, promo={"id": promo, "variant": "exposed"}))
        self.send(events)

    @task(1)
    def click_and_buy(self) -> None:
        promo = random.choice(PROMOS)
        self.send([event("promo_click", "/", promo={"id": promo}), event("add_to_cart", "/product/kettle")])
        if random.random() < 0.3:
            self.send([event("purchase", "/thank-you", order={"id": uuid.uuid4().hex[:10], "revenue": round(random.uniform(10, 200), 2), "currency": "USD"})])
