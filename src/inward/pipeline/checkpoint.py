"""Resume slow work after an interruption.

Model calls are made in chunks; after each chunk its answers are appended (and flushed) to a
checkpoint JSONL outside the tracked outputs. A re-run after a crash or Ctrl-C reads the
checkpoint back and only computes what is missing. The checkpoint is removed once the output is
complete, so it never lands in a DVC out.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

WORK_DIR = Path(os.environ.get("INWARD_WORK_DIR", ".inward-work"))


def request_key(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts (model config, adapter hash, chat, settings)."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class CallSettings:
    """What decides a model call's answer besides the model, its adapter and the chat: part of
    each request's resume key."""

    kind: str
    """object, hypothetical, object+samples or hypothetical+samples."""
    max_new_tokens: int
    seed: int
    n: int | None = None
    """Sampled answers per chat (calibration), None for greedy answers only."""
    temperature: float | None = None
    """Sampling temperature (calibration), None for greedy answers only."""

    def key(self) -> dict:
        """The settings as hashed into request keys (unset fields left out, as always)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


def file_digest(path: str | Path | None) -> str | None:
    """sha256 over a file or every file of a folder (names and bytes), None for no path."""
    if path is None:
        return None
    path = Path(path)
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(str(f.relative_to(path) if path.is_dir() else f.name).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def checkpoint_path(output: str | Path) -> Path:
    return WORK_DIR / "checkpoints" / (str(Path(output)).replace(os.sep, "--") + ".partial.jsonl")


def _load(path: Path) -> dict[str, Any]:
    done = {}
    if path.exists():
        with path.open() as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut by the interruption: recompute it
                    continue
                done[row["key"]] = row["value"]
    return done


def resumable_map(fn: Callable[[list], list], inputs: Sequence, keys: Sequence[str],
                  output: str | Path, chunk_size: int = 64,
                  on_chunk: Callable[[int, int], None] | None = None) -> list:
    """Return ``[fn-result for each input]``, calling ``fn`` on chunks of not-yet-done inputs.

    ``keys[i]`` identifies input i (see ``request_key``); results already in the checkpoint for
    ``output`` are reused. ``on_chunk(done, total)`` reports progress.
    """
    if len(inputs) != len(keys):
        raise ValueError("inputs and keys differ in length")
    path = checkpoint_path(output)
    done = _load(path)
    todo = [i for i, k in enumerate(keys) if k not in done]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        for start in range(0, len(todo), chunk_size):
            idx = todo[start:start + chunk_size]
            results = fn([inputs[i] for i in idx])
            for i, value in zip(idx, results, strict=True):
                done[keys[i]] = value
                fh.write(json.dumps({"key": keys[i], "value": value}, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            if on_chunk:
                on_chunk(len(inputs) - len(todo) + start + len(idx), len(inputs))
    return [done[k] for k in keys]


def clear(output: str | Path) -> None:
    """Drop the checkpoint of a finished output."""
    checkpoint_path(output).unlink(missing_ok=True)
