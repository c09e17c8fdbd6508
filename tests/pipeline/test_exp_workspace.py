"""Repairing a DVC experiment's temporary workspace for Snakemake
(inward.pipeline.exp_workspace)."""

from __future__ import annotations

import json
import os
import subprocess
from base64 import urlsafe_b64encode
from pathlib import Path

from inward.pipeline import exp_workspace


def write_record(root: Path, output: str, start: float, end: float) -> None:
    name = urlsafe_b64encode(output.encode()).decode()
    path = root / ".snakemake" / "metadata" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"starttime": start, "endtime": end, "params": []}))


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})


def temp_workspace(tmp_path: Path) -> Path:
    root = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpabc"
    root.mkdir(parents=True)
    git(root, "init", "-q")
    for name in ("params.yaml", "step.py", "tasks.jsonl"):
        (root / name).write_text(name)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "baseline")
    (root / "params.yaml").write_text("changed by the experiment")
    (root / "out").mkdir()
    (root / "out" / "a.txt").write_text("a")
    (root / "out" / "dir").mkdir()
    (root / "out" / "dir" / "f.bin").write_text("f")
    return root


def test_only_dvc_temporary_workspaces_are_touched(tmp_path):
    assert exp_workspace.in_temp_workspace(temp_workspace(tmp_path))
    assert not exp_workspace.in_temp_workspace(tmp_path)
    assert exp_workspace.prepare(tmp_path, say=lambda m: None) == "workspace"


def test_record_paths_decode_long_names_split_into_folders(tmp_path):
    base = tmp_path / "metadata"
    long = "results/" + "x" * 400 + ".jsonl"
    b64 = urlsafe_b64encode(long.encode()).decode()
    parts = [b64[i:i + 254] for i in range(0, len(b64), 254)]
    path = base.joinpath(*["@" + p for p in parts[:-1]], parts[-1])
    assert exp_workspace._record_id(path, base) == long


def test_outputs_get_their_recorded_times_and_unchanged_sources_an_earlier_one(tmp_path):
    root = temp_workspace(tmp_path)
    write_record(root, "out/a.txt", 1000.0, 1010.0)
    write_record(root, "out/dir", 1020.0, 1030.0)
    assert exp_workspace.prepare(root, say=lambda m: None) == "prepared"
    def mtime(rel):
        return (root / rel).stat().st_mtime
    assert mtime("out/a.txt") == 1010.0
    assert mtime("out/dir") == mtime("out/dir/f.bin") == 1030.0
    assert mtime("step.py") == mtime("tasks.jsonl") < 1000.0  # older than every output
    assert mtime("params.yaml") > 1030.0  # the experiment's change stays newest


def test_metadata_is_taken_from_the_workspace_when_not_carried(tmp_path, monkeypatch):
    root = temp_workspace(tmp_path)
    origin = tmp_path / "origin"
    write_record(origin, "out/a.txt", 1000.0, 1010.0)
    monkeypatch.setenv("DVC_ROOT", str(origin))
    assert exp_workspace.prepare(root, say=lambda m: None) == "prepared"
    assert (root / "out/a.txt").stat().st_mtime == 1010.0
    monkeypatch.delenv("DVC_ROOT")
    other = temp_workspace(tmp_path / "second")
    said = []
    assert exp_workspace.prepare(other, say=said.append) == "no-metadata"
    assert "-C .snakemake/metadata" in said[0]
