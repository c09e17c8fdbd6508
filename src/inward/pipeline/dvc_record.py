"""Record a study in ``dvc.lock`` only when it is complete.

The Snakefile's ``onsuccess`` hook calls ``record_if_complete`` after every successful Snakemake
run. A run may have built only some targets (``snakemake data/items/test.jsonl``,
``--until``, ``--allowed-rules`` ...), so the hook first asks Snakemake, in a dry run of the
default target, whether anything of the full study is left to do. Only when nothing is left
does it run ``dvc commit``; otherwise ``dvc.lock`` keeps its old record and ``dvc status``
goes on reporting the stage as changed, which is the truth. Under ``dvc repro`` (``DVC_STAGE``
is set) DVC records the stage itself.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

STAGE = "study"
_GUARD = "INWARD_RECORD_CHECK"  # set in the dry run, so its own hook never recurses


def _say(msg: str) -> None:
    print(f"[inward] {msg}", file=sys.stderr, flush=True)


def study_complete(cwd: str | Path = ".") -> bool:
    """True when a dry run of the default target has nothing to do."""
    from snakemake.common import NOTHING_TO_BE_DONE_MSG

    proc = subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--nolock",
                           "--cores", "1"], cwd=cwd, env={**os.environ, _GUARD: "1"},
                          capture_output=True, text=True, check=False)
    return proc.returncode == 0 and NOTHING_TO_BE_DONE_MSG in proc.stdout + proc.stderr


def record_if_complete(cwd: str | Path = ".") -> str:
    """``dvc commit`` the study stage if the study is complete; returns what was done
    ("recorded", "incomplete", "failed", or "skipped" when DVC records or there is no DVC)."""
    if os.environ.get("DVC_STAGE") or os.environ.get(_GUARD) or not Path(cwd, ".dvc").is_dir():
        return "skipped"
    if not study_complete(cwd):
        _say("only part of the study is up to date: dvc.lock is left unchanged (a plain "
             "`snakemake` finishes the study and records it)")
        return "incomplete"
    rc = subprocess.call([sys.executable, "-m", "dvc", "commit", "--force", "--quiet", STAGE],
                         cwd=cwd)
    if rc:
        _say(f"`dvc commit {STAGE}` failed ({rc}): run it by hand")
        return "failed"
    _say("the study is complete: recorded in dvc.lock")
    return "recorded"
