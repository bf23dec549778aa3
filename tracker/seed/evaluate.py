"""Run the trust evaluation: write a labelled population, score it, measure the bars (issue #14).

`evaluate(runtime, site, scorer, seed=..)` writes the adversary families, the confounders and
the background humans (`population`, `adversaries`, `confounders`) into `site` over `days`
days, scores every visitor with `scorer` — `tracker.reports.trust.score.range_scores`, the very
SQL the reports use, passed in by the caller since the seed room does not import the reports
wing — and returns an `Evaluation`: per adversary family its recall (share excluded), per confounder its false
positive rate, overall precision, and the share of trusted humans' revenue wrongly excluded.
The bars of the issue are `Evaluation.failures()`; tests assert there are none on a few seeds,
and loadtests/bench_trust_eval.py prints the table.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tracker.seed.adversaries import FAMILIES
from tracker.seed.confounders import CONFOUNDERS, humans
from tracker.seed.population import BROWSER_UAS, DAY_MS, Population

FAMILY_SIZE = 60  # visitors per adversary family
CONFOUNDER_SIZE = 60  # visitors per confounder
HUMANS = 1500  # background shoppers
BARS = {"family_recall": 0.95, "confounder_fpr": 0.01, "revenue_lost": 0.005}


@dataclass
class Evaluation:
    recall: dict[str, float] = field(default_factory=dict)  # family -> share excluded
    fpr: dict[str, float] = field(default_factory=dict)  # confounder (and "human") -> share excluded
    sizes: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, Counter] = field(default_factory=dict)  # label -> reasons of its excluded visitors
    precision: float = 1.0  # excluded visitors that are adversaries
    revenue_lost: float = 0.0  # share of humans' revenue from excluded humans
    missed: dict[str, list[str]] = field(default_factory=dict)  # family -> a few vids not excluded

    def failures(self) -> list[str]:
        """The bars not met, in words (empty when all hold)."""
        out = [f"{f}: {r:.1%} excluded" for f, r in self.recall.items() if r < BARS["family_recall"]]
        out += [f"{c}: {r:.1%} wrongly excluded" for c, r in self.fpr.items() if r > BARS["confounder_fpr"]]
        if self.revenue_lost > BARS["revenue_lost"]:
            out.append(f"humans' revenue wrongly excluded: {self.revenue_lost:.2%}")
        return out


def generate(runtime, site: str, *, seed: int, start: datetime, days: int = 14, family_size: int = FAMILY_SIZE,
             confounder_size: int = CONFOUNDER_SIZE, humans_n: int = HUMANS,
             browser_agents: Sequence[tuple[str, float]] = BROWSER_UAS) -> Population:
    """Write the labelled population into `site` from `start` (UTC) over `days` days."""
    start_ms = int(start.replace(tzinfo=UTC).timestamp() * 1000)
    pop = Population(runtime, site, random.Random(seed), start_ms, days, browser_agents)
    runtime.sites.ensure(site, [])
    humans(pop, humans_n)
    for make in CONFOUNDERS.values():
        make(pop, confounder_size)
    for make in FAMILIES.values():
        make(pop, family_size)
    pop.insert()
    return pop


def measure(truth: Mapping[str, str], revenue: Mapping[str, float], scores: Mapping[str, tuple[int, list[str]]], threshold: int) -> Evaluation:
    """The bars from ground truth and scores (pure)."""
    by_label: dict[str, list[str]] = defaultdict(list)
    for vid, label in truth.items():
        by_label[label].append(vid)
    ev = Evaluation()
    excluded = {vid for vid, (s, _) in scores.items() if s <= threshold}
    for label, vids in sorted(by_label.items()):
        hit = [v for v in vids if v in excluded]
        ev.sizes[label] = len(vids)
        ev.reasons[label] = Counter(r for v in hit for r in scores[v][1])
        share = len(hit) / len(vids)
        if label in FAMILIES:
            ev.recall[label] = share
            ev.missed[label] = [v for v in vids if v not in excluded][:5]
        else:
            ev.fpr[label] = share
    adversaries = {v for v, label in truth.items() if label in FAMILIES}
    flagged = excluded & set(truth)
    ev.precision = len(flagged & adversaries) / len(flagged) if flagged else 1.0
    human_revenue = {v: r for v, r in revenue.items() if truth.get(v) not in FAMILIES}
    total = sum(human_revenue.values())
    ev.revenue_lost = sum(r for v, r in human_revenue.items() if v in excluded) / total if total else 0.0
    return ev


Scorer = Callable[[str, datetime, datetime], Mapping[str, tuple[int, list[str]]]]  # (site, start, end) -> vid -> (score, reasons)


def evaluate(runtime, site: str, scorer: Scorer, threshold: int, *, seed: int = 0, start: datetime = datetime(2026, 3, 2), days: int = 14,
             **sizes) -> Evaluation:
    """Generate, score and measure one population (see the module docstring)."""
    pop = generate(runtime, site, seed=seed, start=start, days=days, **sizes)
    return measure(pop.truth, pop.revenue, scorer(site, start, start + timedelta(days=days + 1)), threshold)
