"""An independent model of sessions for cross-checking reports: plain Python over the very
journeys a test inserts (the `journeys` spec of tests/conftest.py), never the reports' SQL.

It knows the rules of CONTRACT §3 as written: sessions split at gaps over 30 minutes, a
session's dimensions from its first event, `source` = utm_source, else the referrer host of the
first pageview unless it is the site's own, else `(direct)`; a bounce is one pageview and no
engagement event; orders are distinct purchase ids. Device, browser and OS of the user agents
the tests use are stated here (`AGENTS`), not parsed.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

from tests.conftest import BROWSER_UA, T0

GAP_MS = 30 * 60 * 1000
ENGAGEMENT = {"promo_click", "add_to_cart", "checkout", "purchase", "custom"}
IPHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
MAC_FIREFOX_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0"
AGENTS = {
    BROWSER_UA: ("desktop", "Chrome", "Windows"),
    IPHONE_UA: ("mobile", "Mobile Safari", "iOS"),
    MAC_FIREFOX_UA: ("desktop", "Firefox", "Mac OS X"),
}
OWN_HOST = "shop.example"


def _event(vid: str, step: tuple, ua: str) -> dict:
    kind, target, when = step[:3]
    extra = dict(step[3]) if len(step) > 3 else {}
    at = T0 + timedelta(seconds=when) if isinstance(when, (int, float)) else when
    path = {"purchase": "/thank-you"}.get(kind, "/")
    if kind in ("pageview", "add_to_cart", "checkout"):
        path = target or "/"
    path = extra.get("path", path)
    url = extra.get("url") or f"https://{OWN_HOST}{path}{extra.get('query', '')}"
    parts = urlsplit(url)
    tags = {k.lower(): v for k, v in parse_qsl(parts.query)}
    ref = extra.get("ref") or ""
    order = target if kind == "purchase" else None
    return {
        "vid": vid, "id": extra.get("id"), "type": kind, "ms": int(at.timestamp() * 1000), "path": parts.path or "/",
        "host": parts.hostname or "", "ref_host": (urlsplit(ref).hostname or "") if ref else "",
        "utm_source": tags.get("utm_source", "").lower(), "utm_medium": tags.get("utm_medium", "").lower(),
        "utm_campaign": tags.get("utm_campaign", ""), "agent": AGENTS[extra.get("ua", ua)],
        "order": (order[0], float(order[1])) if order else None,
    }


def sessions(spec: dict[str, list[tuple]], ua: str = BROWSER_UA, own_hosts=(OWN_HOST,)) -> list[dict]:
    """Every session of the spec with its dimensions and measures."""
    out = []
    for vid, steps in spec.items():
        seen, events = set(), []
        for step in steps:
            e = _event(vid, step, ua)
            if e["id"] is not None:
                if e["id"] in seen:
                    continue  # a copy of an event id already delivered: counted once
                seen.add(e["id"])
            events.append(e)
        events.sort(key=lambda e: e["ms"])
        cut: list[list[dict]] = []
        for e in events:
            if not cut or e["ms"] - cut[-1][-1]["ms"] > GAP_MS:
                cut.append([])
            cut[-1].append(e)
        for s in cut:
            first = s[0]
            views = [e for e in s if e["type"] == "pageview"]
            landing = views[0] if views else None
            ref = landing["ref_host"] if landing else ""
            internal = not ref or ref == landing["host"] or ref in own_hosts
            source = first["utm_source"] or ("(direct)" if internal else ref)
            out.append({
                "vid": vid, "events": s, "source": source, "utm_medium": first["utm_medium"], "utm_campaign": first["utm_campaign"],
                "entry": landing["path"] if landing else "", "device": first["agent"][0], "browser": first["agent"][1],
                "os": first["agent"][2], "pages": [e["path"] for e in views], "pageviews": len(views),
                "bounced": len(views) == 1 and not any(e["type"] in ENGAGEMENT for e in s),
                "orders": {e["order"] for e in s if e["order"]},
            })
    return out


def matching(all_sessions: list[dict], filters: list[tuple[str, str]]) -> list[dict]:
    """The sessions every (dimension, value) filter holds for."""
    def holds(s, dim, value):
        return value in s["pages"] if dim == "page" else s[dim] == value
    return [s for s in all_sessions if all(holds(s, d, v) for d, v in filters)]


def by(all_sessions: list[dict], key: str) -> dict[str, dict]:
    """Per value of a session dimension: visitors, sessions, pageviews, bounce rate, orders, revenue."""
    groups = defaultdict(list)
    for s in all_sessions:
        groups[s[key]].append(s)
    return {value: totals(group) for value, group in groups.items()}


def totals(group: list[dict]) -> dict:
    orders = [o for s in group for o in s["orders"]]
    return {
        "visitors": len({s["vid"] for s in group}),
        "sessions": len(group),
        "pageviews": sum(s["pageviews"] for s in group),
        "bounce_rate": sum(s["bounced"] for s in group) / len(group) if group else 0.0,
        "orders": len(orders),
        "revenue": round(sum(o[1] for o in orders), 2),
    }


def page_counts(group: list[dict]) -> dict[str, dict]:
    """The pages report's measures per path over these sessions."""
    rows: dict[str, dict] = defaultdict(lambda: {"pageviews": 0, "visitors": set(), "entries": 0, "exits": 0})
    for s in group:
        for i, p in enumerate(s["pages"]):
            r = rows[p]
            r["pageviews"] += 1
            r["visitors"].add(s["vid"])
            r["entries"] += i == 0
            r["exits"] += i == len(s["pages"]) - 1
    return {p: {**r, "visitors": len(r["visitors"])} for p, r in rows.items()}


SOURCES = [
    {},  # direct
    {"query": "?utm_source=Newsletter&utm_medium=Email&utm_campaign=march"},
    {"query": "?utm_source=google&utm_medium=cpc&utm_campaign=spring"},
    {"ref": "https://www.google.com/search?q=shoes"},
    {"ref": "https://news.ycombinator.com/item?id=1"},
    {"ref": "https://shop.example/p/2"},  # the site's own host: direct
]
PAGES = ["/", "/c/shoes", "/p/1", "/p/2", "/cart"]


def shop_journeys(seed: int, visitors: int = 40) -> dict[str, list[tuple]]:
    """A deterministic mix of visitors: one to three sessions each (gaps of 29 to 31 minutes
    and of hours), every source kind, three user agents, bounces, engagement and purchases,
    a purchase sent twice."""
    rnd = random.Random(seed)
    spec = {}
    for n in range(visitors):
        ua = rnd.choice(list(AGENTS))
        at = rnd.randrange(0, 3600)
        steps = []
        for visit in range(rnd.randint(1, 3)):
            landing = dict(rnd.choice(SOURCES), ua=ua)
            steps.append(("pageview", rnd.choice(PAGES), at, landing))
            for _ in range(rnd.choice([0, 0, 1, 2, 4])):
                at += rnd.choice([5, 60, 29 * 60])
                kind = rnd.choice(["pageview", "pageview", "promo_view", "add_to_cart", "custom"])
                target = {"promo_view": "SPRING", "custom": "signup"}.get(kind, rnd.choice(PAGES))
                steps.append((kind, target, at, {"ua": ua}))
            if rnd.random() < 0.3:
                at += 30
                order = (f"o-{seed}-{n}-{visit}", rnd.choice([9.99, 25.0, 120.5]))
                steps.append(("purchase", order, at, {"ua": ua, "id": f"buy-{seed}-{n}-{visit}"}))
                if rnd.random() < 0.3:
                    steps.append(("purchase", order, at, {"ua": ua, "id": f"buy-{seed}-{n}-{visit}"}))  # sent twice
            at += rnd.choice([31 * 60, 2 * 3600, 20 * 3600])
        spec[f"v{seed}-{n}"] = steps
    return spec
