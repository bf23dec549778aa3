"""The trust evaluation (issue #14): precision and recall per adversary family, false-positive
rate per confounder, humans' revenue wrongly excluded — on several seeds.

    .venv/bin/python loadtests/bench_trust_eval.py [--seeds 1,2,3] [--family 60] [--confounder 60] [--humans 1500] [--data DIR]

Each seed writes one labelled population (`tracker.seed.evaluate.generate`: the families of
`tracker.seed.adversaries` with their parameters swept, the confounders of
`tracker.seed.confounders`, background shoppers) into its own site of a temporary embedded
store, scores it with the reports' SQL (`score.range_scores`) under the default trust settings
and prints one table per seed and the worst case over the seeds against the bars.
Human agents: fake-useragent's real browsers weighted by traffic share (test dependency) when
installed, else the seed's small browser mix.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from tracker.config import Settings
from tracker.reports.trust.score import range_scores
from tracker.runtime import Runtime
from tracker.seed.adversaries import FAMILIES
from tracker.seed.evaluate import BARS, generate, measure
from tracker.seed.population import BROWSER_UAS

START, DAYS = datetime(2026, 3, 2), 14


def browsers() -> tuple[tuple[str, float], ...]:
    try:
        import fake_useragent
    except ImportError:
        return BROWSER_UAS
    lines = (Path(fake_useragent.__file__).parent / "data" / "browsers.jsonl").read_text().splitlines()
    return tuple((b["useragent"], b["percent"]) for b in map(json.loads, lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--family", type=int, default=60, help="visitors per adversary family")
    parser.add_argument("--confounder", type=int, default=60, help="visitors per confounder")
    parser.add_argument("--humans", type=int, default=1500, help="background shoppers")
    parser.add_argument("--data", help="data dir (default: a temporary dir, removed afterwards)")
    args = parser.parse_args()
    data = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="tracker-trust-eval-"))
    runtime = Runtime.open(Settings(data_dir=data, trust_refresh_seconds=0))
    agents = browsers()
    worst: dict[str, float] = {}
    try:
        for seed in (int(s) for s in args.seeds.split(",")):
            site = f"eval{seed}"
            started = time.monotonic()
            pop = generate(runtime, site, seed=seed, start=START, days=DAYS, family_size=args.family, confounder_size=args.confounder,
                           humans_n=args.humans, browser_agents=agents)
            scores = range_scores(runtime.storage, runtime.trust, site, START, START + timedelta(days=DAYS + 1))
            ev = measure(pop.truth, pop.revenue, scores, runtime.trust.threshold)
            excluded = {v for v, (s, _) in scores.items() if s <= runtime.trust.threshold}
            print(f"\nseed {seed}: {len(pop.truth)} visitors, {time.monotonic() - started:.1f} s; "
                  f"precision {ev.precision:.4f}; humans' revenue wrongly excluded {ev.revenue_lost:.3%}")
            print(f"  {'family':16}{'n':>5}{'recall':>9}{'precision':>11}  top reasons")
            for family, recall in ev.recall.items():
                # precision per family: of the visitors excluded with this family's top reason, the share that are adversaries
                top = ev.reasons[family].most_common(1)[0][0] if ev.reasons[family] else ""
                with_top = [v for v in excluded if top in scores[v][1]]
                precision = sum(pop.truth.get(v) in FAMILIES for v in with_top) / len(with_top) if with_top else 1.0
                print(f"  {family:16}{ev.sizes[family]:>5}{recall:>9.1%}{precision:>11.1%}  {dict(ev.reasons[family].most_common(3))}")
                worst[family] = min(worst.get(family, 1.0), recall)
            print(f"  {'confounder':16}{'n':>5}{'FP rate':>9}  reasons of the excluded")
            for name, fpr in ev.fpr.items():
                print(f"  {name:16}{ev.sizes[name]:>5}{fpr:>9.2%}  {dict(ev.reasons[name])}")
                worst[name] = max(worst.get(name, 0.0), fpr)
            worst["revenue_lost"] = max(worst.get("revenue_lost", 0.0), ev.revenue_lost)
            print("  bars:", "all met" if not ev.failures() else "; ".join(ev.failures()))
        print("\nworst over the seeds: family recall", f"{min(v for k, v in worst.items() if k in FAMILIES):.1%}",
              f"(bar {BARS['family_recall']:.0%}); confounder FP",
              f"{max(v for k, v in worst.items() if k not in FAMILIES and k != 'revenue_lost'):.2%} (bar {BARS['confounder_fpr']:.0%});",
              f"revenue wrongly excluded {worst['revenue_lost']:.3%} (bar {BARS['revenue_lost']:.1%})")
    finally:
        runtime.close()
        if not args.data:
            shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
