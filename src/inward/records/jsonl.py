"""Small file helpers shared by every step: read JSONL rows, write them atomically, and give
outputs the permissions the user's umask asks for."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path


def iter_jsonl(path: str | Path, hint: str = "") -> Iterator[tuple[int, dict]]:
    """Yield (line number, object) for each non-blank line of a JSONL file.

    A line that is not a JSON object raises ValueError naming the file and the line number,
    followed by ``hint`` (e.g. the keys a line should have).
    """
    path = Path(path)
    tail = f"; {hint}" if hint else ""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{lineno}: invalid JSON ({err.msg}){tail}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object, "  # noqa: TRY004
                                 f"got {type(row).__name__}{tail}")
            yield lineno, row


def read_jsonl(path: str | Path) -> list[dict]:
    """Read one JSON object per non-blank line (errors as in ``iter_jsonl``)."""
    return [row for _, row in iter_jsonl(path)]


def umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | Path) -> None:
    """Give a file, or a folder and everything in it, the modes a plain ``open`` and
    ``mkdir`` would have given under the current umask (0644/0755 under umask 022).

    Temp-file writers (``mkstemp``, safetensors) create files readable by their owner only;
    outputs of a study are meant to be shared like any other file the user writes.
    """
    path = Path(path)
    mask = umask()
    if path.is_dir():
        path.chmod(0o777 & ~mask)
        for p in path.rglob("*"):
            if not p.is_symlink():
                p.chmod((0o777 if p.is_dir() else 0o666) & ~mask)
    elif path.is_file():
        path.chmod(0o666 & ~mask)


def write_jsonl(rows: Iterable[dict], path: str | Path) -> Path:
    """Write rows as JSONL via a temp file in the same folder and a rename.

    The rename is atomic, so a crash never leaves a half-written output that a later run
    would mistake for a finished one. The file gets the umask's modes, not mkstemp's 0600.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
