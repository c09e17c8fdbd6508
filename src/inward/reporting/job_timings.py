"""One table of the model jobs' Snakemake benchmark files (wall time, memory, CPU time).

Snakemake writes one TSV per job that declares ``benchmark:``; its columns include ``s``
(seconds), ``max_rss`` (MB) and ``cpu_time`` (seconds). The numbers depend on the machine, so
the table is a log (``logs/benchmarks/summary.csv``), shown in the Snakemake report, never a
DVC output.
"""

from __future__ import annotations

import csv
from pathlib import Path

COLUMNS = ["rule", "job", "seconds", "max_rss_mb", "cpu_seconds", "file"]


def read_benchmark(path: str | Path) -> dict[str, str] | None:
    """The last row of a Snakemake benchmark TSV (the last repeat), None when absent."""
    path = Path(path)
    if not path.is_file():
        return None
    rows = list(csv.DictReader(path.open(encoding="utf-8"), delimiter="\t"))
    return rows[-1] if rows else None


def _number(row: dict, key: str) -> str:
    value = row.get(key, "")
    try:
        return f"{float(value):.2f}"
    except ValueError:  # "NA" when the job was too short to sample
        return ""


def summarise(jobs: list[tuple[str, str, str]], out: str | Path) -> int:
    """Write one CSV row per (rule, job, benchmark file) whose file exists (a job restored by
    ``dvc pull`` has none); returns the number of rows."""
    rows = []
    for rule, job, path in jobs:
        row = read_benchmark(path)
        if row is not None:
            rows.append({"rule": rule, "job": job, "seconds": _number(row, "s"),
                         "max_rss_mb": _number(row, "max_rss"),
                         "cpu_seconds": _number(row, "cpu_time"), "file": path})
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
