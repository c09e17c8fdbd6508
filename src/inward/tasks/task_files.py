"""Task files named in ``params.yaml`` under ``tasks.files``: what tasks they provide, which files
each task's items come from (the ``items`` rule's inputs) and how to load them.

An entry is ``name: path`` or ``name: {path: ..., format: auto | jsonl | paper}``:

- ``jsonl``: the user's own prompts, one ``{"id", "prompt", "target"?}`` per line; the entry
  provides one task, called ``name``.
- ``paper``: the paper's dataset release (DataRow lines: ``original_dataset``,
  ``object_level_prompt``, ...), one file or a folder of ``*.jsonl`` files; the entry provides
  every ``original_dataset`` found in it, under that name (``animals_long``,
  ``wealth_seeking`` ...), with the release's task kind and so its properties. A release task
  named like a built-in task replaces the built-in generator.
- ``auto`` (the default): ``paper`` when the first line of the first file is a DataRow, else
  ``jsonl``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from inward.tasks import catalog

FORMATS = ("auto", "jsonl", "paper")
PAPER_KEYS = ("original_dataset", "object_level_prompt")


@dataclass(frozen=True)
class Source:
    """Where one task's items come from."""
    entry: str              # the key under tasks.files
    format: str             # "jsonl" or "paper"
    path: str               # the entry's path (file or folder)
    files: tuple[str, ...]  # the files holding this task's items (the rule's inputs)

    def param(self) -> dict:
        """The JSON-able form the items rule receives (a change of it reruns the rule)."""
        return {"entry": self.entry, "format": self.format, "path": self.path}


def entry_spec(name: str, value: str | Mapping[str, str]) -> tuple[str, str]:
    """(path, declared format) of one ``tasks.files`` entry."""
    if isinstance(value, Mapping):
        return str(value["path"]), value.get("format", "auto")
    return str(value), "auto"


def jsonl_files(path: str | Path) -> list[Path]:
    """The file itself, or every ``*.jsonl`` under a folder (sorted)."""
    path = Path(path)
    return sorted(path.rglob("*.jsonl")) if path.is_dir() else [path]


def _rows(file: Path):
    """Each non-blank line of a JSONL file, parsed (None where it is not JSON)."""
    with file.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    yield None  # reported when the file is loaded


def detect_format(path: str | Path) -> str:
    """``paper`` when the first line of the first file is a DataRow, else ``jsonl``."""
    files = jsonl_files(path)
    if not files or not files[0].is_file():
        return "jsonl"
    row = next(_rows(files[0]), None)
    return "paper" if isinstance(row, dict) and all(k in row for k in PAPER_KEYS) else "jsonl"


def _datasets(file: Path) -> set[str]:
    return {row["original_dataset"] for row in _rows(file)
            if isinstance(row, dict) and isinstance(row.get("original_dataset"), str)}


def entry_sources(name: str, value) -> dict[str, Source]:
    """Task name -> Source for one entry. Raises ValueError (naming the key) when the path is
    missing or a paper entry holds no DataRow."""
    path, fmt = entry_spec(name, value)
    key = f"tasks.files.{name}"
    if not Path(path).exists():
        raise ValueError(f"{key}: file {path!r} does not exist")
    if fmt not in FORMATS:
        raise ValueError(f"{key}.format: {fmt!r} is not one of {list(FORMATS)}")
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt == "jsonl":
        if Path(path).is_dir():
            raise ValueError(f"{key}: {path!r} is a folder; a jsonl task is one file (a folder "
                             "is allowed for the paper's release: format: paper)")
        return {name: Source(name, "jsonl", path, (path,))}
    by_task: dict[str, list[str]] = {}
    files = jsonl_files(path)
    if not files:
        raise ValueError(f"{key}: no .jsonl files under {path!r}")
    for file in files:
        for task in sorted(_datasets(file)):
            by_task.setdefault(task, []).append(str(file))
    if not by_task:
        raise ValueError(f"{key}: {path!r} holds no DataRow line with 'original_dataset' "
                         "(format: paper)")
    return {task: Source(name, "paper", path, tuple(fs)) for task, fs in sorted(by_task.items())}


def sources(files: Mapping[str, str | Mapping[str, str]]) -> dict[str, Source]:
    """Every task that ``tasks.files`` (entry name -> path or {path, format}) provides, by
    task name."""
    found: dict[str, Source] = {}
    for name, value in files.items():
        for task, src in entry_sources(name, value).items():
            if task in found:
                raise ValueError(f"tasks.files.{name}: task {task!r} is already provided by "
                                 f"tasks.files.{found[task].entry}")
            found[task] = src
    return found


def split_sources(files: Mapping[str, str | Mapping[str, str]],
                  split_tasks: Sequence[str]) -> dict[str, dict]:
    """The sources of one split's file tasks, as the items rule's parameter."""
    return {task: src.param() for task, src in sources(files).items() if task in split_tasks}


def split_inputs(files: Mapping[str, str | Mapping[str, str]],
                 split_tasks: Sequence[str]) -> list[str]:
    """The files one split's items are read from: the items rule's inputs."""
    return sorted({f for task, src in sources(files).items() if task in split_tasks
                   for f in src.files})


def load_task(task: str, source: dict | str | Path, n_items: int, seed: int, split: str,
              max_prompt_chars: int | None = None) -> list[catalog.Item]:
    """The items of one file task. A jsonl task is kept whole (the user chose its prompts); a
    paper task gives ``n_items`` of its release rows, a seeded draw (all when it has fewer).
    ``source`` is ``Source.param()``, or a plain path to a jsonl file."""
    if isinstance(source, (str, Path)):
        source = {"entry": task, "format": "jsonl", "path": str(source)}
    if source["format"] == "jsonl":
        return catalog.load_jsonl_task(source["path"], task, split,
                                     max_prompt_chars=max_prompt_chars)
    return [replace(it, split=split) for it in _release_pool(task, source, seed)[:n_items]]


def _release_pool(task: str, source: Mapping[str, str], seed: int) -> list[catalog.Item]:
    """Every release row of ``task`` in the study's seeded order: a split takes a slice."""
    pool = sorted((it for it in catalog.load_paper_release(source["path"]) if it.task == task),
                  key=lambda it: it.item_id)
    if not pool:
        raise ValueError(f"tasks.files.{source['entry']}: no rows of task {task!r}")
    random.Random(f"inward:{seed}:{task}").shuffle(pool)
    return pool


def split_items(split: str, task_names: Sequence[str], n_items: int, seed: int,
                files: Mapping[str, Mapping[str, str]]) -> list[catalog.Item]:
    """The items of one split (``train`` or ``test``): built-in tasks' seeded prompts, then
    each file task's (``files``: ``split_sources``), a user's JSONL kept whole and a seeded
    draw of the paper's release."""
    generated = [t for t in task_names if t not in files]
    if split == "train":
        items = catalog.build_split(generated, [], n_items, 0, seed)
    else:
        items = catalog.build_split([], generated, 0, n_items, seed)
    for name in task_names:
        if name in files:
            items += load_task(name, files[name], n_items, seed, split)
    return items


def extra_items(split: str, counts: Mapping[str, int], offsets: Mapping[str, int], seed: int,
                files: Mapping[str, Mapping[str, str]]) -> list[catalog.Item]:
    """The items of a split beyond train and test (``shift``, ``calibration``): per task,
    ``counts[task]`` prompts that come after the ``offsets[task]`` prompts the study's other
    splits take from the same seeded draw, so none of them repeats a prompt used elsewhere.
    Built-in tasks draw further from their generator, release tasks from their rows; a
    user's JSONL task is kept whole by the other splits, so it has none to spare."""
    items: list[catalog.Item] = []
    for task, n in counts.items():
        start = offsets.get(task, 0)
        source = files.get(task)
        if source is None:
            pool = catalog.generate_items(task, start + n, seed)
        elif source["format"] == "paper":
            pool = _release_pool(task, source, seed)
        else:
            raise ValueError(f"{split} items: task {task!r} comes from the user file "
                             f"{source['path']!r}, whose prompts the study uses whole; "
                             "allowed: built-in tasks and tasks of the paper's release")
        drawn = pool[start:start + n]
        if len(drawn) < n:
            raise ValueError(f"{split} items: task {task!r} has {len(pool)} prompts, "
                             f"{start} of them used by the study's other splits; "
                             f"{n} more asked")
        items += [replace(it, split=split) for it in drawn]
    return items
