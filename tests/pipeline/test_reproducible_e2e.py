"""The one-machine reproducibility guarantee (README, "What is reproduced"): a second run of the
same study, in a fresh repo, with other --cores and another executor (Slurm's, where the test
machine can start a cluster: ``second_study`` in conftest.py), writes the same bytes into
every file DVC tracks, and so dvc.lock records the same hashes."""

from __future__ import annotations

import json

import pytest

from e2e_support import TINY, lock_outs, sh, tracked_files

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_a_second_run_gives_the_same_bytes_for_every_tracked_output(tiny_study, second_study):
    first = json.loads((tiny_study.parent / "tracked_first.json").read_text())
    repo = second_study.repo
    assert (repo / "params.yaml").read_text() == TINY.read_text()
    # the first run was `dvc repro` (`snakemake --cores all`: model jobs two at a time, each
    # with one torch thread on 2 cores); this one ran jobs in another order (one agent's jobs
    # per Slurm job, or one job at a time) with one thread each, and is recorded by the
    # Snakefile's onsuccess hook
    second = tracked_files(repo)
    assert sorted(second) == sorted(first)
    differ = [f for f in first if first[f] != second[f]]
    assert not differ, differ
    assert "up to date" in sh("dvc status", repo)
    assert lock_outs(repo / "dvc.lock") == lock_outs(tiny_study.parent / "dvc_first.lock")
