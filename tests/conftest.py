"""Shared fixtures. Models load offline only (HF_HUB_OFFLINE=1), from the packages on PyPI."""

from __future__ import annotations

import os
import subprocess

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SMOLLM = {"backend": "local", "source": "embedded:smollm2-135m", "batch_size": 16}
# one torch thread by default: on a shared 2-core machine, 2 OpenMP threads competing with other
# processes spin-wait and run 5-10x slower than one
THREADS = int(os.environ.get("INWARD_TEST_THREADS", "1"))


@pytest.fixture(scope="session")
def smollm_backend():
    """SmolLM2-135M-Instruct on CPU, loaded once per test session (from the safetensors cache;
    the first run on a machine builds it from the GGUF file, ~25 s)."""
    from inward.backends import load_backend

    return load_backend(SMOLLM, threads=THREADS)


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The tiny study run once through ``dvc repro`` in a fresh repo (end-to-end tests).

    Returns the repo; ``metrics_first.json`` and ``answers_first/`` (the object-level and
    hypothetical answer files), ``dvc_first.lock`` and ``tracked_first.json`` (md5 of every
    DVC-tracked file) beside it keep the first run's results, since later tests edit the repo."""
    import json
    import shutil

    from e2e_support import new_study_repo, sh, tracked_files

    repo = new_study_repo(tmp_path_factory.mktemp("study") / "repo")
    # umask 022, as on most machines: the outputs must then be readable by group and others
    (repo.parent / "first_run.log").write_text(sh("umask 022 && dvc repro", repo))
    shutil.copy(repo / "reports" / "metrics.json", repo.parent / "metrics_first.json")
    shutil.copy(repo / "dvc.lock", repo.parent / "dvc_first.lock")
    (repo.parent / "tracked_first.json").write_text(json.dumps(tracked_files(repo), indent=1))
    for kind in ("object", "hypothetical"):
        shutil.copytree(repo / "results" / kind, repo.parent / "answers_first" / kind)
    return repo


@pytest.fixture(scope="session")
def second_study(tiny_study, tmp_path_factory):
    """The tiny study run a second time, in a fresh repo: through Slurm's executor on a
    single-node cluster started for it (``tests/slurm_cluster.py``), or, where no cluster can
    be installed and started (no root or no apt-get), by ``snakemake --cores 1``.

    Model jobs get one torch thread, as in the first run (``--cores all`` on 2 cores), so the
    two runs must write the same bytes. The cluster lives only as long as the run: no other
    test pays the Slurm executor plugin's probe of a stopped controller. Returns a namespace:
    ``repo``, ``executor`` ("slurm" or "local"), ``why`` (why not Slurm), ``output`` (what
    Snakemake printed), ``jobs`` (the cluster's job completion records), ``seconds``."""
    import time
    from types import SimpleNamespace

    from e2e_support import new_study_repo, sh
    from slurm_cluster import ClusterUnavailable, SlurmCluster, ensure_installed

    root = tmp_path_factory.mktemp("second")
    repo = new_study_repo(root / "repo")
    run = SimpleNamespace(repo=repo, executor="local", why="", output="", jobs=[], seconds=0.0)
    try:
        ensure_installed()
        cluster = SlurmCluster(root / "cluster")
        cluster.start()
    except (ClusterUnavailable, OSError, subprocess.TimeoutExpired) as err:
        run.why = f"no Slurm cluster here: {err}"
        start = time.monotonic()
        run.output = sh("snakemake --cores 1", repo)
        run.seconds = time.monotonic() - start
        return run
    model_rules = ["object_answers", "hypothetical_answers", "object_samples",
                   "hypothetical_samples", "finetune", "finetune_shift"]
    # per group job (one agent's model jobs): 2 cpus and 12 GB, so two of its jobs run side by
    # side with one torch thread each; no slurmdbd, so the executor polls squeue
    cmd = ("timeout -k 30 1800 snakemake --workflow-profile workflow/profiles/slurm --jobs 4 "
           "--cores 2 --resources mem_mb=12000 --slurm-no-account "
           "--slurm-status-command squeue --slurm-init-seconds-before-status-checks 2 "
           "--seconds-between-status-checks 2 "
           "--set-threads " + " ".join(f"{r}=1" for r in model_rules))
    try:
        start = time.monotonic()
        run.output = sh(cmd, repo)
        run.seconds = time.monotonic() - start
        run.executor = "slurm"
        run.jobs = cluster.completed_jobs()
    finally:
        cluster.stop()
    return run
