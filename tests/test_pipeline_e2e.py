"""The whole DAG on the real embedded models, with a tiny config, in a fresh git + DVC repo.

One study is run once (module fixture) through ``dvc repro``; the tests then check what it wrote
and how Snakemake and DVC behave around it: nothing left to do, targeted re-runs after a params
edit, ``dvc status`` after a plain Snakemake run, Snakemake after ``dvc checkout``, and
``dvc metrics diff`` across commits. Tests depend on each other's order (they edit the repo).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import pytest
from e2e_support import edit_params, jobs_run, sh

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def mtimes(repo: Path, *dirs: str) -> dict[str, float]:
    return {str(p.relative_to(repo)): p.stat().st_mtime
            for d in dirs for p in (repo / d).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def repo(tiny_study) -> Path:
    return tiny_study


def test_every_expected_output_exists(repo):
    for rel in ["data/items/train.jsonl", "data/items/test.jsonl", "reports/metrics.json",
                "reports/report.md", "reports/tables/items.parquet",
                "reports/tables/by_task_property.csv", "reports/tables/calibration_bins.csv"]:
        assert (repo / rel).is_file(), rel
    for fig in ["accuracy", "by_task_property", "calibration", "shift"]:
        for ext in ("png", "html"):
            assert (repo / "reports/figures" / f"{fig}.{ext}").stat().st_size > 1000, fig
    for agent in ["smollm2__self", "gemma3__self", "gemma3__cross__smollm2",
                  "smollm2__cross__gemma3", "smollm2__shift", "gemma3__shift"]:
        adapter = repo / "results/adapters" / agent
        assert (adapter / "adapter_model.safetensors").is_file(), agent
        assert not (adapter / "README.md").exists(), "model cards make outs machine-specific"
    report = (repo / "reports/report.md").read_text()
    assert "figures/accuracy.png" in report and "Reading" in report


def _numbers(metrics: dict, prefix=""):
    """(key, value, the dict holding it) for every scalar of the metrics."""
    for k, v in metrics.items():
        if isinstance(v, dict):
            yield from _numbers(v, f"{prefix}{k}.")
        elif not isinstance(v, list):
            yield f"{prefix}{k}", v, metrics


def test_metrics_have_every_key_and_are_numbers_in_range(repo):
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    for m, m2 in [("smollm2", "gemma3"), ("gemma3", "smollm2")]:
        r = metrics["targets"][m]
        for acc in [r["untrained"], r["self"], r["cross"][m2], r["shift"]["new"],
                    r["shift"]["old"]]:
            for suffix in ("", "_compliant"):
                a, n = acc[f"accuracy{suffix}"], acc[f"n{suffix}"]
                assert n == 0 or 0 <= acc[f"ci_low{suffix}"] <= a <= acc[f"ci_high{suffix}"] <= 1
            assert acc["n_compliant"] <= acc["n"]
        for policy in ("keep_all", "compliant"):
            p = r["self_vs_cross"][m2][policy]["p_value"]
            assert p is None or 0 <= p <= 1
        for mad in [r["calibration_mad"]["self"], r["calibration_mad"]["untrained"],
                    r["calibration_mad"]["cross"][m2]]:
            assert mad["mad"] is None or 0 <= mad["ci_low"] <= mad["ci_high"] <= 100
        assert 0 <= r["groups"]["informative"] <= r["groups"]["n"]
    for agent in ["smollm2", "smollm2__self", "gemma3__shift"]:
        a = metrics["agents"][agent]
        for key in ("object_compliance", "hypothetical_compliance", "demonstration_leak"):
            assert 0 <= a[key] <= 1, (agent, key)
    for key, value, holder in _numbers(metrics):
        if value is None:  # undefined only where there was nothing to score
            assert (holder.get("n") == 0 or holder.get("n_compliant") == 0
                    or holder.get("n_pairs") == 0 or holder.get("behaviour_kept_n") == 0
                    or key.startswith("per_group")), key
            continue
        assert isinstance(value, (int, float)) and not isinstance(value, bool), key
        assert math.isfinite(value), key


def test_metrics_equal_an_independent_recomputation(repo):
    """The bar of issue 10: the official definitions recomputed from the answer files."""
    from reference_scorer import compare, recompute

    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert compare(recompute(repo), metrics) == []


def test_nothing_left_to_do_after_the_run(repo):
    assert "Nothing to be done" in sh("snakemake -n --cores 1", repo)
    assert "up to date" in sh("dvc status", repo)


def test_a_plotting_param_reruns_only_figures_and_report(repo):
    before = mtimes(repo, "results", "data")
    edit_params(repo, "plots.width", 180)
    out = sh("dvc repro", repo)
    assert {rule for rule, _ in jobs_run(out)} == {"figures", "report"}, out
    assert mtimes(repo, "results", "data") == before


def test_the_shift_learning_rate_reruns_only_the_shift_branch(repo):
    edit_params(repo, "finetune.shift.learning_rate", 0.002)
    out = sh("dvc repro", repo)
    jobs = jobs_run(out)
    model_jobs = [(r, w) for r, w in jobs if r not in ("evaluate", "figures", "report")]
    assert model_jobs and all("__shift" in w for _, w in model_jobs), jobs
    assert {r for r, _ in model_jobs} == {"finetune_shift", "object_answers",
                                          "hypothetical_answers"}
    assert {"evaluate", "figures", "report"} <= {r for r, _ in jobs}


def test_plain_snakemake_leaves_dvc_status_clean(repo):
    edit_params(repo, "plots.height", 130)
    sh("snakemake --cores 2", repo)
    assert "up to date" in sh("dvc status", repo)


def test_snakemake_does_not_redo_work_after_dvc_checkout(repo):
    shutil.rmtree(repo / "results" / "hypothetical")
    (repo / "reports" / "report.md").unlink()
    sh("dvc checkout", repo)
    assert (repo / "reports" / "report.md").is_file()
    sh("python -m inward.cli restore --no-checkout", repo)
    assert "Nothing to be done" in sh("snakemake -n --cores 1", repo)


def test_push_to_a_local_remote_and_pull_back(repo):
    remote = repo.parent / "remote"
    sh(f"dvc remote add -d -f local {remote} && dvc push -q", repo)
    shutil.rmtree(repo / "results")
    sh("dvc pull -q", repo)
    assert (repo / "results/adapters/smollm2__self/adapter_model.safetensors").is_file()
    sh("python -m inward.cli restore --no-checkout", repo)
    assert "Nothing to be done" in sh("snakemake -n --cores 1", repo)
    assert "up to date" in sh("dvc status", repo)


def test_metrics_diff_after_changing_held_out_items(repo):
    sh("git add -A && git commit -qm 'study run'", repo)
    edit_params(repo, "tasks.n_test_items", 2)  # fewer: a cheaper rerun
    out = sh("dvc repro", repo)
    jobs = jobs_run(out)
    # the held-out split alone is regenerated: no finetune, no training-split answer
    assert not {r for r, _ in jobs} & {"finetune", "finetune_shift", "self_data", "cross_data",
                                       "shift_data"}, jobs
    assert all("split=test" in w for r, w in jobs if r in ("items", "object_answers")), jobs
    sh("git add -A && git commit -qm 'fewer held-out items'", repo)
    diff = sh("dvc metrics diff HEAD~1", repo)
    assert "reports/metrics.json" in diff and re.search(r"targets\.\w+\.self\.n", diff), diff
    params = sh("dvc params diff HEAD~1", repo)
    assert re.search(r"tasks\.n_test_items\s+3\s+2", params), params
