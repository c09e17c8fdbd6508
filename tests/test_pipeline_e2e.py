"""The whole DAG on the real embedded models, with a tiny config, in a fresh git + DVC repo.

One study is run once (module fixture) through ``dvc repro``; the tests then check what it wrote
and how Snakemake and DVC behave around it: nothing left to do, targeted re-runs after a params
edit, ``dvc status`` after a plain Snakemake run, Snakemake after ``dvc checkout``, and
``dvc metrics diff`` across commits. Tests depend on each other's order (they edit the repo).
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "configs" / "tiny.yaml"
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def sh(cmd: str, cwd: Path, check: bool = True) -> str:
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=ENV, capture_output=True, text=True)
    log = cwd.parent / "commands.log"
    with log.open("a") as fh:
        fh.write(f"$ {cmd}\n{proc.stdout}\n{proc.stderr}\n")
    if check and proc.returncode:
        raise AssertionError(f"{cmd} failed ({proc.returncode}); see {log}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def jobs_run(output: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job Snakemake ran, from its log output."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        m = re.match(r"(?:local)?rule (\w+):", block.strip())
        if m and m.group(1) != "all":
            w = re.search(r"wildcards: ([^\n]*)", block)
            jobs.append((m.group(1), w.group(1) if w else ""))
    return jobs


def edit_params(repo: Path, dotted: str, value) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    node = params
    *path, last = dotted.split(".")
    for k in path:
        node = node[k]
    node[last] = value
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def mtimes(repo: Path, *dirs: str) -> dict[str, float]:
    return {str(p.relative_to(repo)): p.stat().st_mtime
            for d in dirs for p in (repo / d).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("study") / "repo"
    repo.mkdir()
    for name in ("Snakefile", "dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "workflow", repo / "workflow")
    shutil.copytree(ROOT / "src", repo / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(TINY, repo / "params.yaml")
    sh("git init -q -b main && dvc init -q && dvc config core.analytics false", repo)
    sh("git add -A && git commit -qm 'tiny study'", repo)
    out = sh("dvc repro", repo)
    (repo.parent / "first_run.log").write_text(out)
    return repo


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
    for k, v in metrics.items():
        if isinstance(v, dict):
            yield from _numbers(v, f"{prefix}{k}.")
        elif isinstance(v, list):
            continue
        else:
            yield f"{prefix}{k}", v


def test_metrics_have_every_key_and_are_numbers_in_range(repo):
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    for m, m2 in [("smollm2", "gemma3"), ("gemma3", "smollm2")]:
        r = metrics["targets"][m]
        for acc in [r["untrained"], r["self"], r["cross"][m2], r["baseline"],
                    r["shift"]["new"], r["shift"]["old"]]:
            assert 0 <= acc["ci_low"] <= acc["accuracy"] <= acc["ci_high"] <= 1 or acc["n"] == 0
        assert 0 <= r["self_vs_cross"][m2]["p_value"] <= 1
        for mad in [r["calibration_mad"]["self"], r["calibration_mad"]["untrained"],
                    r["calibration_mad"]["cross"][m2]]:
            assert 0 <= mad <= 100
        assert 0 <= r["object_compliance"]["self"] <= 1
    for key, value in _numbers(metrics):
        assert isinstance(value, (int, float)) and not isinstance(value, bool), key
        assert math.isfinite(value) or math.isnan(value), key


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


def test_metrics_diff_after_changing_held_out_items(repo):
    sh("git add -A && git commit -qm 'study run'", repo)
    edit_params(repo, "tasks.n_test_items", 5)
    out = sh("dvc repro", repo)
    assert not any(r in ("finetune", "finetune_shift") for r, _ in jobs_run(out))
    sh("git add -A && git commit -qm 'more held-out items'", repo)
    diff = sh("dvc metrics diff HEAD~1", repo)
    assert "reports/metrics.json" in diff and re.search(r"targets\.\w+\.self\.n", diff), diff
