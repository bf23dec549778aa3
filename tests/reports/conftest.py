"""Helpers for report tests: run a report the way the API does (the runner parses the query
into the scope and the report's typed Params, resolves the untrusted set and runs it on the
session's real chDB storage), without HTTP."""

from __future__ import annotations

import pytest

from tracker.reports.routes import REPORTS
from tracker.reports.runner import execute

RANGE = {"from": "2026-03-01", "to": "2026-03-03"}  # T0 (2026-03-02 10:00 UTC) is inside


@pytest.fixture
def report(runtime):
    def run(name: str, site: str, **params) -> dict:
        query = {"site": site, **RANGE, **{k: v if isinstance(v, list) else str(v) for k, v in params.items()}}  # a list: a repeated parameter
        return execute(runtime, REPORTS[name], query)

    return run
