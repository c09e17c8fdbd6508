"""Snakemake inside a DVC experiment's temporary workspace (``dvc exp run --queue`` / ``--temp``).

DVC runs a queued experiment in a fresh copy of the repository (``.dvc/tmp/exps/tmpXXXX``):
git files are checked out at the baseline commit with the experiment's changes left
uncommitted, and the study's outputs are restored from DVC's cache. Two things Snakemake
relies on are then wrong:

- ``.snakemake/metadata`` is missing (it is not tracked), so Snakemake cannot see that a
  rule's params changed: a plots-only change would redraw nothing;
- every file has a new modification time, in no useful order, so Snakemake sees inputs newer
  than their outputs (and the rule script newer than everything) and reruns at random.

``prepare`` repairs both before Snakemake starts: it takes the metadata carried into the copy
(``dvc exp run --queue -C .snakemake/metadata -C logs/benchmarks``; the benchmark files feed
the benchmark table, a log, not a DVC output) or else the workspace's (``$DVC_ROOT``), gives
every output the time its record says it was made, and gives every unchanged git file a time
before all of them. Files the experiment changed (``git status``) keep their new times, so
Snakemake reruns exactly what depends on them, as it would in the workspace.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from base64 import urlsafe_b64decode
from pathlib import Path

METADATA = Path(".snakemake") / "metadata"
CARRIED = (METADATA, Path("logs") / "benchmarks")  # what Snakemake needs that DVC leaves out


def in_temp_workspace(root: str | Path = ".") -> bool:
    """True inside a DVC experiment's temporary copy of the repository."""
    parts = Path(root).resolve().parts
    return any(parts[i:i + 3] == (".dvc", "tmp", "exps") for i in range(len(parts) - 2))


def _record_id(record: Path, base: Path) -> str:
    """The output path a Snakemake metadata record describes (urlsafe base64, long names split
    into folders whose names start with '@')."""
    parts = [p.removeprefix("@") for p in record.relative_to(base).parts]
    return urlsafe_b64decode("".join(parts).encode()).decode()


def metadata_records(root: str | Path = ".") -> dict[str, dict]:
    """Output path -> its Snakemake metadata record (start and end times, params, code ...)."""
    base = Path(root) / METADATA
    records = {}
    for path in base.rglob("*") if base.is_dir() else []:
        if path.is_file():
            try:
                records[_record_id(path, base)] = json.loads(path.read_text())
            except (ValueError, UnicodeDecodeError):
                continue  # a record being written; Snakemake treats it as missing too
    return records


def changed_files(root: str | Path = ".") -> set[str]:
    """Files the experiment changed or added against the baseline commit."""
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    return {line[3:].split(" -> ")[-1].strip('"') for line in out.splitlines() if line}


def _set_time(path: Path, when: float) -> None:
    """Give a file, or a folder and everything in it, the modification time ``when``."""
    if path.is_dir():
        for sub in path.rglob("*"):
            os.utime(sub, (when, when), follow_symlinks=False)
    os.utime(path, (when, when), follow_symlinks=False)


def restore_times(root: str | Path, records: dict[str, dict]) -> int:
    """Outputs get their recorded end times; unchanged git files an earlier time. Returns how
    many outputs were dated."""
    root = Path(root)
    ends = {p: r["endtime"] for p, r in records.items()
            if isinstance(r.get("endtime"), (int, float)) and (root / p).exists()}
    if not ends:
        return 0
    before = min(r.get("starttime") or r["endtime"] for p, r in records.items()
                 if p in ends) - 60
    changed = changed_files(root)
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    for name in tracked:
        if name not in changed and (root / name).is_file() and name not in ends:
            os.utime(root / name, (before, before), follow_symlinks=False)
    # parents before children: a folder output's files then keep the folder's own record time
    for path in sorted(ends, key=len):
        _set_time(root / path, ends[path])
    return len(ends)


def prepare(root: str | Path = ".", say=print) -> str:
    """Make a DVC temporary workspace look to Snakemake like the workspace it was copied from.
    Returns what was done: "workspace" (nothing to do), "prepared", or "no-metadata"."""
    root = Path(root)
    if not in_temp_workspace(root):
        return "workspace"
    origin = os.environ.get("DVC_ROOT")
    for rel in CARRIED:
        source = Path(origin or "") / rel
        if not (root / rel).is_dir() and origin and source.is_dir():
            say(f"copying {rel} from {origin} (queue with `-C {rel}` to carry the "
                "baseline's own)")
            shutil.copytree(source, root / rel)
    if not (root / METADATA).is_dir():
        say("no Snakemake metadata in this DVC temporary workspace: Snakemake cannot tell "
            "which params changed and may redo or skip work; queue experiments with "
            "`dvc exp run --queue -C .snakemake/metadata -C logs/benchmarks`")
        return "no-metadata"
    dated = restore_times(root, metadata_records(root))
    say(f"DVC temporary workspace: {dated} outputs dated from Snakemake's metadata")
    return "prepared"
