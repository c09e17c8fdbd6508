"""Shared fixtures. Models load offline only (HF_HUB_OFFLINE=1), from the packages on PyPI."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from inward.config.types import ModelConfig

# shared helpers of the tests (e2e_support, loopback, reference_scorer, ...)
sys.path.insert(0, str(Path(__file__).parent / "support"))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SMOLLM = ModelConfig.from_params({"backend": "local", "source": "embedded:smollm2-135m",
                                  "batch_size": 16})
# one torch thread by default: on a shared 2-core machine, 2 OpenMP threads competing with other
# processes spin-wait and run 5-10x slower than one
THREADS = int(os.environ.get("INWARD_TEST_THREADS", "1"))


@pytest.fixture(scope="session")
def smollm_backend():
    """SmolLM2-135M-Instruct on CPU, loaded once per test session (from the safetensors cache;
    the first run on a machine builds it from the GGUF file, ~25 s)."""
    from inward.backends import load_backend

    return load_backend(SMOLLM, threads=THREADS)


def _first_study(tmp_path_factory):
    """The tiny study run once through ``dvc repro`` in a fresh repo (see ``tiny_study``)."""
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
    # what made them (later tests rerun parts of the study in this repo)
    shutil.copytree(repo / "data" / "items", repo.parent / "items_first")
    shutil.copytree(repo / "results" / "adapters", repo.parent / "adapters_first")
    return repo


@pytest.fixture(scope="session", autouse=True)
def _first_study_in_background(request, tmp_path_factory):
    """Starts the first tiny study as the session starts, when a selected test needs it.

    Most of the suite before the end-to-end files runs on one core (one test at a time, one
    torch thread); the study's jobs use the other meanwhile instead of after them. Its
    commands run with ``e2e_support.ENV``, a copy of the environment taken at import, and in
    their own folder, so nothing a unit test sets or changes reaches them."""
    import threading

    if not any("tiny_study" in item.fixturenames for item in request.session.items):
        yield None
        return
    result: dict = {}

    def run():
        try:
            result["repo"] = _first_study(tmp_path_factory)
        except Exception as err:  # noqa: BLE001 -- re-raised by every test that asks for the study
            result["error"] = err

    worker = threading.Thread(target=run, name="first tiny study", daemon=True)
    worker.start()
    yield worker, result
    worker.join()


@pytest.fixture(scope="session")
def tiny_study(_first_study_in_background):
    """The tiny study run once through ``dvc repro`` in a fresh repo (end-to-end tests).

    Returns the repo; ``metrics_first.json`` and ``answers_first/`` (the object-level and
    hypothetical answer files), ``dvc_first.lock`` and ``tracked_first.json`` (md5 of every
    DVC-tracked file), ``items_first/`` and ``adapters_first/`` beside it keep the first run's
    results and what made them, since later tests edit the repo. The run itself started with
    the session (``_first_study_in_background``)."""
    worker, result = _first_study_in_background
    worker.join()
    if "error" in result:
        raise result["error"]
    return result["repo"]


@pytest.fixture(scope="session")
def second_study(tiny_study, tmp_path_factory):
    """The tiny study run a second time, in a fresh repo: through Slurm's executor on a
    single-node cluster started for it, or by ``snakemake --cores 1`` where no cluster can be
    started (see ``e2e_support.second_study_run``)."""
    from e2e_support import second_study_run

    return second_study_run(tmp_path_factory.mktemp("second"))
