"""The tiny study through Snakemake's Slurm executor on a real single-node Slurm cluster
(Debian's slurmctld, slurmd and munge, started by ``tests/slurm_cluster.py``; the run itself is
the ``second_study`` fixture, shared with the reproducibility test).

Checks that the model jobs really went through Slurm (submissions in Snakemake's log, the
cluster's job completion records, one Slurm job per agent group) and that the metrics equal
the local run's."""

from __future__ import annotations

import json
import re

import pytest

from e2e_support import tiny_branches
from inward.study.layout import model_jobs

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def run(second_study):
    if second_study.executor != "slurm":
        pytest.skip(second_study.why)
    return second_study


def test_model_jobs_went_through_slurm(run):
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: ([^)]+)\)",
                           run.output)
    assert submitted, run.output[-3000:]
    ids = {int(i) for i, _ in submitted}
    done = {int(j["JobId"]): j for j in run.jobs}
    assert ids <= set(done), (ids, sorted(done))
    final = {}  # a retried group has a failed record and a completed one
    for i, log in submitted:
        final[log.rsplit("/", 2)[-2]] = done[int(i)]["JobState"]
    assert set(final.values()) == {"COMPLETED"}, final
    # one Slurm job per agent (its finetune and every answer that uses its adapter), and one
    # for the evaluation; the light steps stayed on the submitting host (`localrules`)
    groups = [g for g in final if g.startswith("group_agent_")]
    agents = {re.match(r"group_agent_(.+?)_(finetune|hypothetical|object)", g).group(1)
              for g in groups}
    assert agents == {"smollm2", "gemma3", "smollm2__self", "gemma3__self",
                      "gemma3__cross__smollm2", "smollm2__cross__gemma3", "smollm2__shift",
                      "gemma3__shift", *tiny_branches(["smollm2", "gemma3"])[2]}
    assert len(groups) == len(agents)
    assert set(final) - set(groups) == {"rule_evaluate"}, final
    assert re.search(r"localrule items:", run.output)


def test_metrics_equal_the_local_run(run, tiny_study):
    slurm = json.loads((run.repo / "reports" / "metrics.json").read_text())
    local = json.loads((tiny_study.parent / "metrics_first.json").read_text())
    assert slurm == local
    rows = run.repo.joinpath("logs/benchmarks/summary.csv").read_text().splitlines()
    models = ["smollm2", "gemma3"]  # one per model job, the tiny config's branches' too
    assert len(rows) == 1 + len(model_jobs(models)) + len(tiny_branches(models)[1])
