"""Where a study's time went: every model job's Snakemake benchmark file, summed per rule.

    python benchmarks/study_time.py [STUDY_DIR]

Reads ``logs/benchmarks/<rule>/<job>.tsv`` (wall seconds, max RSS, CPU seconds; written by the
model rules' ``benchmark:`` directive) and prints one line per job, then per rule family and in
total. Wall seconds of jobs that ran side by side add up to more than the study's wall time.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path


def read(study: Path) -> list[dict]:
    rows = []
    for f in sorted((study / "logs" / "benchmarks").rglob("*.tsv")):
        with f.open() as fh:
            last = list(csv.DictReader(fh, delimiter="\t"))[-1]
        rows.append({"rule": f.parent.name, "job": f.stem, "wall_s": float(last["s"]),
                     "cpu_s": float(last["cpu_time"]), "max_rss_mb": float(last["max_rss"])})
    return rows


def main(study: str = ".") -> None:
    rows = read(Path(study))
    by_rule: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    print(f"{'rule':14s} {'job':28s} {'wall s':>8s} {'cpu s':>8s} {'max RSS MB':>11s}")
    for r in rows:
        print(f"{r['rule']:14s} {r['job']:28s} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} "
              f"{r['max_rss_mb']:11.0f}")
        agg = by_rule[r["rule"]]
        agg[0] += r["wall_s"]
        agg[1] += r["cpu_s"]
        agg[2] += 1
    print()
    total = sum(a[0] for a in by_rule.values())
    for rule, (wall, cpu, n) in sorted(by_rule.items(), key=lambda kv: -kv[1][0]):
        print(f"{rule:14s} {n:3d} jobs {wall:8.1f} s wall ({100 * wall / total:4.1f}%) "
              f"{cpu:8.1f} s cpu")
    print(f"{'all':14s} {len(rows):3d} jobs {total:8.1f} s wall")


if __name__ == "__main__":
    main(*sys.argv[1:])
