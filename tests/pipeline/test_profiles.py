"""Where jobs run is a profile: the default one is read by a bare `snakemake`, the Slurm one
asks for GPUs only for models whose params entry wants them, and every job declares the
resources an executor needs to place it. Dry runs only: nothing is computed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from e2e_support import ENV, ROOT, new_study_repo, sh, tiny_branches
from inward.study.layout import model_jobs

MODEL_RULES = {"object_answers", "hypothetical_answers", "object_answers_and_samples",
               "hypothetical_answers_and_samples", "hypothetical_answers_held_in", "finetune",
               "finetune_shift"}


def planned(output: str) -> list[dict]:
    """rule, wildcards, threads and resources of every job of a dry run (group jobs' members
    are printed indented under the group)."""
    jobs = []
    starts = list(re.finditer(r"^\s*(?:local)?rule (\w+):", output, re.MULTILINE))
    for m, nxt in zip(starts, starts[1:] + [None], strict=False):
        block = output[m.end():nxt.start() if nxt else len(output)]
        if m.group(1) == "all":
            continue
        wild = re.search(r"wildcards: ([^\n]*)", block)
        threads = re.search(r"threads: (\d+)", block)
        res = re.search(r"resources: ([^\n]*)", block)
        jobs.append({"rule": m.group(1), "wildcards": wild.group(1) if wild else "",
                     "threads": int(threads.group(1)) if threads else 1,
                     "resources": dict(kv.split("=", 1) for kv in res.group(1).split(", "))})
    return jobs


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = new_study_repo(tmp_path_factory.mktemp("profiles") / "repo")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"]["smollm2"]["gpus"] = 1  # gemma3 asks for none
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return repo


def no_cuda() -> dict:
    return {k: v for k, v in ENV.items() if k != "CUDA_VISIBLE_DEVICES"}


def test_a_bare_snakemake_reads_the_default_profile(repo):
    out = sh("snakemake -n", repo)
    assert "Using workflow specific profile profiles/default" in out
    assert len(planned(out)) > 30


@pytest.mark.parametrize("flag", ["--profile", "--workflow-profile"])
def test_the_slurm_profile_asks_gpus_from_params_not_from_the_host(repo, flag):
    out = sh(f"snakemake -n {flag} profiles/slurm", repo, env=no_cuda())
    jobs = planned(out)
    model = [j for j in jobs if j["rule"] in MODEL_RULES]
    models = ["smollm2", "gemma3"]  # every model job, the tiny config's branches' too
    assert len(model) == len(model_jobs(models)) + len(tiny_branches(models)[1])
    for job in model:
        agent = re.search(r"agent=([^,]+)", job["wildcards"]).group(1)
        want = "1" if agent.split("__")[0] == "smollm2" else "0"
        assert job["resources"]["gpu"] == want, job
    assert all("gpu" not in j["resources"] for j in jobs if j["rule"] not in MODEL_RULES)


def test_a_cuda_host_adds_no_gpu_request(tmp_path):
    repo = new_study_repo(tmp_path / "repo")
    out = sh("snakemake -n --workflow-profile profiles/slurm", repo,
             env={**ENV, "CUDA_VISIBLE_DEVICES": "0"})
    gpus = {j["resources"].get("gpu") for j in planned(out) if j["rule"] in MODEL_RULES}
    assert gpus == {"0"}


def test_every_job_declares_memory_runtime_and_threads(repo):
    out = sh("snakemake -n --cores 4", repo)
    jobs = planned(out)
    rules = {j["rule"] for j in jobs}
    assert MODEL_RULES | {"items", "evaluate", "figures", "report", "benchmarks"} <= rules
    for job in jobs:
        assert int(job["resources"]["mem_mb"]) >= 1000, job
        assert int(job["resources"]["runtime"]) >= 10, job
        assert job["threads"] == (2 if job["rule"] in MODEL_RULES else 1), job
    # and each rule states them itself (not left to an executor's defaults)
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for block in re.split(r"\n(?=rule )", smk.read_text())[1:]:
            name = block.split(":")[0]
            assert "threads:" in block and "resources:" in block, (smk.name, name)
            assert ("mem_mb=" in block and "runtime=" in block) or "**LIGHT" in block, name


def test_the_slurm_profile_sets_model_threads_and_groups_an_agents_jobs(repo):
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert set(profile["set-threads"]) == MODEL_RULES
    out = sh("snakemake -n --workflow-profile profiles/slurm", repo, env=no_cuda())
    threads = {j["threads"] for j in planned(out) if j["rule"] in MODEL_RULES}
    assert threads == {4}
