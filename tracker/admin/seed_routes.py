"""`POST /api/admin/seed?site=&visitors=&days=&seed=` (role admin): synthetic shop traffic.

The CLI's `tracker seed` calls this, so seeding works the same against a running server and
in-process. The ground truth (humans, bots, fraud reasons per visitor id) is written to
`<data>/seed-truth/<site>-<seed>.json` for the trust team's precision/recall checks; the
response carries only counts and that path.
"""

from __future__ import annotations

import os

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tracker.auth.roles import ADMIN, authorize, note_action
from tracker.http import int_param, json_response, runtime_of
from tracker.seed import seed
from tracker.vocabulary import check_site_id

MAX_VISITORS = 5_000_000
MAX_DAYS = 730


def _write_truth(runtime, result) -> str:
    folder = runtime.settings.data_dir.resolve() / "seed-truth"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.site}-{result.seed}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(result.truth()))
    os.replace(tmp, path)
    return str(path)


def _seed(runtime, site: str, visitors: int, days: int, seed_value: int) -> dict:
    result = seed(runtime, site, visitors, days, seed=seed_value)
    return {**result.summary(), "truth_file": _write_truth(runtime, result)}


async def seed_events(request: Request) -> Response:
    site = check_site_id(request.query_params.get("site") or "demo")
    authorize(request, ADMIN, site)
    visitors = int_param(request.query_params, "visitors", 1000, 0, MAX_VISITORS)
    days = int_param(request.query_params, "days", 14, 1, MAX_DAYS)
    seed_value = int_param(request.query_params, "seed", 0, 0, 2**31 - 1)
    summary = await run_in_threadpool(_seed, runtime_of(request), site, visitors, days, seed_value)
    note_action(request, f"seeded {visitors} synthetic visitors over {days} days (seed {seed_value})")
    return json_response(summary, 201)


routes = [Route("/api/admin/seed", seed_events, methods=["POST"])]
