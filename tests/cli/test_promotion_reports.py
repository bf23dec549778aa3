"""`tracker report promotions|campaigns|lift` as a user runs them: a subprocess with its own
data dir, data brought in with `tracker import` and the coupon linked with `tracker promo set`."""

from __future__ import annotations

import json
import subprocess
import sys

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


def tracker(*args: str, data) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tracker", *args, "--data", str(data)], capture_output=True, text=True, timeout=300)


def line(vid: str, at: str, kind: str, n: int, **fields) -> str:
    return json.dumps({"type": kind, "id": f"{vid}-{n}", "vid": vid, "ts": f"2026-03-02T{at}Z", "ua": UA,
                       "url": fields.pop("url", "https://shop.example/"), **fields})


def test_promotions_campaigns_lift_from_the_cli(tmp_path):
    events = [
        line("v1", "10:00:00", "pageview", 1, url="https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=march"),
        line("v1", "10:00:05", "promo_view", 2, promo={"id": "SPRING", "variant": "exposed"}),
        line("v1", "10:00:10", "promo_click", 3, promo={"id": "SPRING"}),
        line("v1", "10:01:00", "promo_click", 4, promo={"id": "SHIP"}),
        line("v1", "10:02:00", "purchase", 5, order={"id": "o1", "revenue": 30.0, "coupon": "spring10"}),
        line("v2", "11:00:00", "promo_view", 1, promo={"id": "SPRING", "variant": "holdout"}),
    ]
    jsonl = tmp_path / "events.jsonl"
    jsonl.write_text("\n".join(events) + "\n")
    data = tmp_path / "data"
    imported = tracker("import", str(jsonl), "--site", "shop", data=data)
    assert imported.returncode == 0, imported.stderr
    linked = tracker("promo", "set", "SPRING", "--site", "shop", "--coupon", "SPRING10", data=data)
    assert linked.returncode == 0, linked.stderr
    window = ("--site", "shop", "--from", "2026-03-01", "--to", "2026-03-31")

    out = tracker("report", "promotions", *window, "--model", "linear", "--lookback-days", "3", "--json", data=data)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    rows = {r["promo_id"]: r for r in body["rows"]}
    assert body["model"] == "linear" and body["lookback_days"] == 3
    assert (rows["SPRING"]["impressions"], rows["SPRING"]["clicks"], rows["SPRING"]["conversions"]) == (1, 1, 1)
    assert (rows["SPRING"]["attributed_revenue"], rows["SHIP"]["attributed_revenue"]) == (15.0, 15.0)
    assert rows["SPRING"]["coupon_redemptions"] == 1

    campaigns = json.loads(tracker("report", "campaigns", *window, "--json", data=data).stdout)
    email = next(r for r in campaigns["rows"] if r["utm_medium"] == "email")
    assert (email["sessions"], email["conversions"], email["revenue"]) == (1, 1, 30.0)

    lift = tracker("report", "lift", *window, "--promo", "SPRING", data=data)
    assert lift.returncode == 0, lift.stderr
    assert "not enough data" in lift.stdout
    bad = tracker("report", "promotions", *window, "--model", "magic", data=data)
    assert bad.returncode == 2 and "invalid choice: 'magic'" in bad.stderr  # the declared choices, checked before any request
