"""Checks of what ``params.yaml`` points at, made before any job starts.

``inward.config.validation`` checks the shape of the params and the registry names; this module
looks at the world they refer to: task files (present, non-empty, valid, no duplicate ids, prompts
within ``tasks.max_prompt_chars``), local model directories, the API-key variables of hosted
models, the server address of served ones, and whether each built-in task can generate as many
items as asked. Each problem is one line naming the key, the file and line where there is one,
and what is allowed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from inward.config.types import Params
from inward.models import embedded
from inward.tasks import catalog, task_files

HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_TRUE = ("1", "true", "yes", "on")


def task_file_problems(params: Params) -> list[str]:
    """Every task file must load: exist, hold at least one valid item, no duplicate ids,
    no prompt over the length limit (user JSONL); valid DataRow lines (the paper's release)."""
    limit = params.tasks.max_prompt_chars
    problems = []
    for name, value in params.tasks.files.items():
        key = f"tasks.files.{name}"
        try:
            found = task_files.entry_sources(name, value)
        except (ValueError, UnicodeDecodeError) as err:
            problems.append(str(err))
            continue
        path, _ = task_files.entry_spec(name, value)
        try:
            if next(iter(found.values())).format == "jsonl":
                catalog.load_jsonl_task(path, name, max_prompt_chars=limit)
            else:
                catalog.load_paper_release(path)
        except (ValueError, UnicodeDecodeError) as err:
            problems.append(f"{key}: {err}")
    return problems


def size_problems(params: Params) -> list[str]:
    """A built-in task asked for more distinct items than it can generate."""
    problems = []
    try:
        files = set(task_files.sources(params.tasks.files))
    except (ValueError, OSError, UnicodeDecodeError):
        files = set(params.tasks.files)
    for split in ("train", "test"):
        n = params.tasks.n_items(split)
        for name in params.tasks.split(split):
            if name in files or name not in catalog.TASKS:
                continue
            most = catalog.max_items(name)
            if most is not None and n > most:
                problems.append(f"tasks.n_{split}_items: {n} items asked of task {name!r}, "
                                f"which can generate at most {most} distinct prompts; "
                                f"allowed: 1 to {most}")
            held_in = params.tasks.n_held_in_items
            if (split == "train" and held_in and most is not None and n <= most
                    and n + held_in > most):  # held-in prompts come from the same draw
                problems.append(f"tasks.n_held_in_items: {held_in} held-in items of task "
                                f"{name!r} after its {n} training items exceed the {most} "
                                f"distinct prompts it can generate; allowed: 0 to {most - n}")
    return problems


def extra_split_problems(params: Params) -> list[str]:
    """The shift's and the calibration variant's prompts come after those the study's other
    splits take: a built-in task must generate them all, and a user's JSONL task (used
    whole) has none to spare."""
    problems = []
    try:
        sources = task_files.sources(params.tasks.files)
    except (ValueError, OSError, UnicodeDecodeError):
        return problems  # reported by task_file_problems
    splits = {"shift": ("shift.n_answers", params.shift.tasks),
              "calibration": ("calibration.variant.n_items",
                              () if params.calibration.variant is None
                              else (params.calibration.variant.task,))}
    for split, (key, tasks) in splits.items():
        if not tasks:
            continue
        counts, offsets = params.extra_split(split)
        for task, n in counts.items():
            if task in sources and sources[task].format == "jsonl":
                problems.append(f"{key}: task {task!r} comes from the user file "
                                f"{sources[task].path!r}, which the study uses whole; "
                                "allowed: built-in tasks and tasks of the paper's release")
                continue
            most = catalog.max_items(task) if task in catalog.TASKS else None
            if task not in sources and most is not None and offsets[task] + n > most:
                problems.append(f"{key}: {n} new prompts of task {task!r} after the "
                                f"{offsets[task]} the study already uses exceed the {most} it "
                                f"can generate; allowed: at most {most - offsets[task]}")
    return problems


def _in_hub_cache(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def _offline() -> bool:
    return any(os.environ.get(v, "").lower() in _TRUE
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def local_source_problem(name: str, source: str) -> str | None:
    """A local model's ``source``: an embedded name (checked by the registry), an existing
    Hugging Face model directory, or a hub id (cached, when offline)."""
    if source.startswith("embedded:"):
        return None
    key = f"models.{name}.source"
    path = Path(source).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            return f"{key}: {source!r} is not a Hugging Face model directory (no config.json)"
        return None
    allowed = (f"allowed: {', '.join(embedded.list_models())}, an existing model directory, "
               "or a hub id owner/name")
    if HUB_ID.fullmatch(source) and not source.startswith("."):
        if _offline() and not _in_hub_cache(source):
            return (f"{key}: {source!r} is neither a directory nor a hub id in the local "
                    f"Hugging Face cache, and HF_HUB_OFFLINE is set; {allowed}")
        return None
    return f"{key}: local model directory {source!r} does not exist; {allowed}"


def model_problems(params: Params) -> list[str]:
    problems = []
    for name, model in params.models.items():
        if model.trains_locally:
            problem = local_source_problem(name, model.source)
            if problem:
                problems.append(problem)
        if model.backend == "served":  # its own server: an address, a key only if it wants one
            if not (os.environ.get(model.base_url_env) or model.base_url):
                problems.append(f"models.{name}.base_url: a served model needs its server's "
                                f"address (e.g. http://localhost:8000/v1): set base_url, or "
                                f"export the variable named by base_url_env "
                                f"({model.base_url_env!r})")
        elif not model.is_local:  # hosted: the key's variable must be set
            var = model.api_key_env
            if not os.environ.get(var):
                problems.append(f"models.{name}.api_key_env: the environment variable {var!r} "
                                "is not set; export it with the API key (params.yaml names the "
                                "variable, never the key)")
    return problems


def problems(params: Params) -> list[str]:
    """Everything outside params.yaml that would make a job fail."""
    return (task_file_problems(params) + size_problems(params) + extra_split_problems(params)
            + model_problems(params))
