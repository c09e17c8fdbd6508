"""Turning an optional branch on plans only its own jobs and the scoring and report jobs: the
regular study's answers and finetunes are left alone. Dry runs on a study whose outputs are
placeholders marked up to date (`snakemake --touch`): nothing is computed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from e2e_support import edit_params, jobs_run, new_study_repo, sh

SCORING = {("evaluate", ""), ("figures", ""), ("report", ""), ("benchmarks", "")}
MODELS = ["smollm2", "gemma3"]


def touch_everything(repo: Path) -> None:
    """Placeholders for every output a dry run lists, then marked up to date."""
    out = sh("snakemake -n --cores 2", repo)
    for line in re.findall(r"^\s*output: ([^\n]*)", out, re.MULTILINE):
        for path in (repo / p.strip() for p in line.split(",")):
            if path.suffix:  # a file; adapters, tables and figures are folders
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            else:
                path.mkdir(parents=True, exist_ok=True)
    sh("snakemake --touch --cores 1", repo)
    assert "Nothing to be done" in sh("snakemake -n --cores 1", repo)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = new_study_repo(tmp_path_factory.mktemp("branches") / "repo")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["cross"] = {"scaling": []}  # both branches off, whatever the tiny config says
    params["tasks"]["n_held_in_items"] = 0
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    touch_everything(repo)
    return repo


def planned(repo: Path) -> set[tuple[str, str]]:
    return set(jobs_run(sh("snakemake -n --cores 2", repo)))


def scaled_jobs(share: str) -> set[tuple[str, str]]:
    agents = [f"{m2}__cross__{m1}@{share}" for m1 in MODELS for m2 in MODELS if m1 != m2]
    return ({("cross_subset", f"model={m}, scale={share}") for m in MODELS}
            | {(rule, f"agent={a}") for a in agents
               for rule in ("training_data", "finetune", "hypothetical_answers")})


def test_a_scaling_share_plans_only_its_adapters_and_the_scoring(repo):
    reports = SCORING | {("loss_curves", ""), ("transcripts", "")}  # the new agents' too
    edit_params(repo, "cross", {"scaling": [0.5]})
    assert planned(repo) == scaled_jobs("0.5") | reports
    touch_everything(repo)
    edit_params(repo, "cross", {"scaling": [0.5, 0.25]})  # one share more: only its jobs
    assert planned(repo) == scaled_jobs("0.25") | reports
    touch_everything(repo)


def test_held_in_items_plan_only_their_answers_and_the_scoring(repo):
    edit_params(repo, "tasks.n_held_in_items", 2)
    objects = [a for m in MODELS for a in (m, f"{m}__self")]
    hypos = objects + [f"{m2}__cross__{m1}" for m1 in MODELS for m2 in MODELS if m1 != m2]
    assert planned(repo) == ({("held_in_items", "")}
                             | {("object_answers", f"agent={a}, split=heldin") for a in objects}
                             | {("hypothetical_answers_held_in", f"agent={a}") for a in hypos}
                             | SCORING)
