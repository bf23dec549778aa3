"""Helpers of the trust tests: scores of a site's visitors straight from the scoring SQL."""

from __future__ import annotations

import pytest

from tracker.reports._params import parse_common
from tracker.reports.trust import score
from tracker.reports.trust.signals import bind_coverage

RANGE = {"from": "2026-03-01", "to": "2026-03-31"}


def visitor_scores(storage, site: str, config: score.TrustConfig | None = None, **query) -> dict[str, dict]:
    common = parse_common({"site": site, **RANGE, **query})
    params = bind_coverage(storage, {**common.bind(), **score.trust_params(config)})
    return {row["vid"]: row for row in storage.dicts(score.VISITOR_SCORES, params, what="test scores")}


@pytest.fixture
def scores(storage):
    def run(site: str, config: score.TrustConfig | None = None, **query) -> dict[str, dict]:
        return visitor_scores(storage, site, config, **query)

    return run
