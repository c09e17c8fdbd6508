"""The one-machine reproducibility guarantee (README, "What is reproduced"): a second run of the
same study, in a fresh repo and with another --cores, writes the same bytes into every file DVC
tracks, and so dvc.lock records the same hashes."""

from __future__ import annotations

import json

import pytest
from e2e_support import TINY, lock_outs, new_study_repo, sh, tracked_files
from snakemake.utils import available_cpu_count

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_a_second_run_gives_the_same_bytes_for_every_tracked_output(tiny_study, tmp_path):
    first = json.loads((tiny_study.parent / "tracked_first.json").read_text())
    repo = new_study_repo(tmp_path / "repo")
    assert (repo / "params.yaml").read_text() == TINY.read_text()
    # the first run was `dvc repro` (`snakemake --cores all`: model jobs two at a time, each with
    # max(1, all // 2) torch threads); this one gives model jobs the same thread count with other
    # --cores (1 on a machine of up to 3 cores: one job at a time, in another order), and is
    # recorded by the Snakefile's onsuccess hook
    threads = max(1, available_cpu_count() // 2)
    sh(f"snakemake --cores {1 if threads == 1 else 2 * threads + 1}", repo)
    second = tracked_files(repo)
    assert sorted(second) == sorted(first)
    differ = [f for f in first if first[f] != second[f]]
    assert not differ, differ
    assert "up to date" in sh("dvc status", repo)
    assert lock_outs(repo / "dvc.lock") == lock_outs(tiny_study.parent / "dvc_first.lock")
