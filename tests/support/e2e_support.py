"""Helpers for the end-to-end tests: run commands in a study repo, parse Snakemake's output."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "configs" / "tiny.yaml"
TASKS = ROOT / "tests" / "configs" / "tasks"  # the tiny study's task files (data/tasks/)
ENV = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
       "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
       "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def sh(cmd: str, cwd: Path, check: bool = True, env: dict | None = None) -> str:
    """Run a shell command, log it beside the repo, fail with the end of its stderr."""
    proc = subprocess.run(cmd, shell=True, cwd=cwd, env=env or ENV, capture_output=True,
                          text=True, check=False)
    log = cwd.parent / "commands.log"
    with log.open("a") as fh:
        fh.write(f"$ {cmd}\n{proc.stdout}\n{proc.stderr}\n")
    if check and proc.returncode:
        raise AssertionError(f"{cmd} failed ({proc.returncode}); see {log}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def jobs_run(output: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job Snakemake ran (or, in a dry run, would run), from its log
    output. A dry run prints the model jobs indented under their group (`group: agent_...`,
    which Snakemake applies to cluster and dry runs only)."""
    jobs = []
    starts = list(re.finditer(r"^[ \t]*(?:local)?rule (\w+):", output, re.MULTILINE))
    for m, nxt in zip(starts, starts[1:] + [None], strict=False):
        if m.group(1) == "all":
            continue
        block = output[m.end():nxt.start() if nxt else len(output)]
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


def new_study_repo(repo: Path, params: dict | None = None) -> Path:
    """A fresh git + DVC repo holding the workflow and the tiny params (or ``params``)."""
    repo.mkdir(parents=True)
    for name in ("Snakefile", "dvc.yaml", ".dvcignore", ".gitignore"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "workflow", repo / "workflow")
    shutil.copytree(ROOT / "profiles", repo / "profiles")
    shutil.copytree(ROOT / "src", repo / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(TASKS, repo / "data" / "tasks")
    if params is None:
        shutil.copy(TINY, repo / "params.yaml")
    else:
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    sh("git init -q -b main && dvc init -q && dvc config core.analytics false", repo)
    sh("git add -A && git commit -qm 'tiny study'", repo)
    return repo


def tracked_roots(repo: Path) -> list[str]:
    """The paths dvc.yaml's study stage records (outs and metrics)."""
    stage = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]["study"]
    return [next(iter(o)) if isinstance(o, dict) else o
            for o in stage.get("outs", []) + stage.get("metrics", [])]


def tracked_files(repo: Path) -> dict[str, str]:
    """md5 of every file DVC tracks for the study, by path relative to the repo."""
    found = {}
    for root in tracked_roots(repo):
        path = repo / root
        for f in ([path] if path.is_file() else sorted(path.rglob("*"))):
            if f.is_file():
                found[str(f.relative_to(repo))] = hashlib.md5(f.read_bytes()).hexdigest()
    return found


def lock_outs(lock: Path) -> dict[str, str]:
    """md5 that a dvc.lock file records for each out of the study stage."""
    stage = yaml.safe_load(lock.read_text())["stages"]["study"]
    return {o["path"]: o["md5"] for o in stage["outs"]}


MODEL_RULES = ["object_answers", "hypothetical_answers", "object_answers_and_samples",
               "hypothetical_answers_and_samples", "hypothetical_answers_held_in", "finetune",
               "finetune_shift"]


def second_study_run(root: Path):
    """The tiny study in a fresh repo under ``root``: through Snakemake's Slurm executor on a
    single-node cluster started for it (``tests/slurm_cluster.py``), or, where no cluster can
    be installed and started (no root or no apt-get), by ``snakemake --cores 1``.

    Model jobs get one torch thread, as in the first run (``--cores all`` on 2 cores), so the
    two runs must write the same bytes. The cluster lives only as long as the run: no other
    test pays the Slurm executor plugin's probe of a stopped controller. Returns a namespace:
    ``repo``, ``executor`` ("slurm" or "local"), ``why`` (why not Slurm), ``output`` (what
    Snakemake printed), ``jobs`` (the cluster's job completion records), ``seconds``."""
    import time
    from types import SimpleNamespace

    from slurm_cluster import ClusterUnavailable, SlurmCluster, ensure_installed

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
    # per group job (one agent's model jobs): 1 cpu and 8 GB, its jobs one after another with
    # one torch thread, so the 2-cpu node runs two agents' group jobs side by side (a 2-cpu
    # group job would leave a cpu idle whenever the group has one job ready); no slurmdbd, so
    # the executor polls squeue; `timeout` bounds the whole run
    cmd = ("timeout -k 30 1800 snakemake --workflow-profile profiles/slurm --jobs 4 "
           "--cores 1 --resources mem_mb=8000 --slurm-no-account "
           "--slurm-status-command squeue --slurm-init-seconds-before-status-checks 2 "
           "--seconds-between-status-checks 2 "
           "--set-threads " + " ".join(f"{r}=1" for r in MODEL_RULES))
    try:
        start = time.monotonic()
        run.output = sh(cmd, repo)
        run.seconds = time.monotonic() - start
        run.executor = "slurm"
        run.jobs = cluster.completed_jobs()
    finally:
        cluster.stop()
    return run


def tiny_branches(models: list[str]) -> tuple[list[str], list[tuple[str, str, str]], list[str]]:
    """The optional branches the tiny config turns on (``cross.scaling``,
    ``tasks.n_held_in_items``): their files, their model jobs and the scaled cross agents."""
    from inward.study import layout

    params = yaml.safe_load(TINY.read_text())
    scaling = list((params.get("cross") or {}).get("scaling") or [])
    held_in = bool(params["tasks"].get("n_held_in_items"))
    return (layout.branch_files(models, scaling, held_in),
            layout.branch_model_jobs(models, scaling, held_in),
            [a.name for a in layout.scaled_cross_agents(models, scaling)])
