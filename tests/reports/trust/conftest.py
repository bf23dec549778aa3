"""Helpers of the trust tests: scores of a site's visitors straight from the scoring SQL."""

from __future__ import annotations

import pytest

from tracker.reports.params import parse_scope
from tracker.reports.runner import Context
from tracker.reports.trust import score

RANGE = {"from": "2026-03-01", "to": "2026-03-31"}


def visitor_scores(runtime, site: str, config: score.TrustConfig | None = None, **query) -> dict[str, dict]:
    """Every visitor's row of `score.VISITOR_SCORES` under `config` (default: the runtime's)."""
    ctx = Context(runtime.storage, parse_scope({"site": site, **RANGE, **query}), config or runtime.trust)
    return {row["vid"]: row for row in runtime.storage.dicts(score.VISITOR_SCORES, ctx.bind_coverage(), what="test scores")}


@pytest.fixture
def scores(runtime):
    def run(site: str, config: score.TrustConfig | None = None, **query) -> dict[str, dict]:
        return visitor_scores(runtime, site, config, **query)

    return run
