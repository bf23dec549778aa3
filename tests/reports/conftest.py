"""Helpers for report tests: run a report module the way the API does (typed Params from a
query dict, then `run` on the session's real chDB storage)."""

from __future__ import annotations

import importlib

import pytest

RANGE = {"from": "2026-03-01", "to": "2026-03-03"}  # T0 (2026-03-02 10:00 UTC) is inside


@pytest.fixture
def report(storage):
    def run(name: str, site: str, **params) -> dict:
        module = importlib.import_module(f"tracker.reports.{name}")
        query = {"site": site, **RANGE, **{k: str(v) for k, v in params.items()}}
        return module.run(storage, module.Params.from_query(query))

    return run
