"""The model jobs' Snakemake benchmark files, summarised in one table."""

from __future__ import annotations

import csv

from inward.reporting.job_timings import summarise
from inward.study.layout import model_jobs

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_every_existing_benchmark_is_one_row(tmp_path):
    a, b = tmp_path / "a.tsv", tmp_path / "b.tsv"
    a.write_text(HEADER + "12.5\t0:00:12\t812.3\t1\t1\t1\t0\t0\t95.0\t11.9\n")
    b.write_text(HEADER + "3.0\t0:00:03\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n")
    out = tmp_path / "summary.csv"
    jobs = [("finetune", "m__self", str(a)), ("object_answers", "m test", str(b)),
            ("object_answers", "m train", str(tmp_path / "missing.tsv"))]
    assert summarise(jobs, out) == 2
    rows = list(csv.DictReader(out.open()))
    assert rows[0] == {"rule": "finetune", "job": "m__self", "seconds": "12.50",
                       "max_rss_mb": "812.30", "cpu_seconds": "11.90", "file": str(a)}
    assert rows[1]["max_rss_mb"] == "" and rows[1]["seconds"] == "3.00"


def test_the_study_lists_one_benchmark_per_model_job():
    jobs = model_jobs(["m", "n"])
    files = [f for _, _, f in jobs]
    assert len(files) == len(set(files)) == 24  # the two-model tiny study's model jobs
    assert ("finetune_shift", "m__shift", "logs/benchmarks/finetune/m__shift.tsv") in jobs
