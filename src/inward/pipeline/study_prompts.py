"""Every chat a study sends, without running a model: ``inward show-prompts``.

For each split the items are drawn exactly as the ``items`` rule draws them; each item's
object-level chat, and the hypothetical chat of each (item, property) the study asks about, is
one JSONL row ``{"split", "task", "item_id", "property", "messages"}`` (``property`` null at the
object level). Held-out items' chats are what the models are asked; training items' hypothetical
chats are the questions of the finetuning examples. The ``shift`` split holds what the shift's
source is asked (``shift.tasks``), the ``calibration`` split the calibration variant's chats.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import TextIO

from inward.config.types import Params
from inward.tasks import prompts, task_files


def study_chats(params: Params) -> Iterator[dict]:
    """The study's chats, split by split, item by item (object level first)."""
    for split in ("train", "test"):
        names = params.tasks.split(split)
        files = task_files.split_sources(params.tasks.files, names)
        items = task_files.split_items(split, names, params.tasks.n_items(split), params.seed,
                                       files)
        for item in items:
            yield _row(split, item, None,
                       prompts.object_chat(item, params.generation.demonstration))
        for item, prop in prompts.study_pairs(items, params.tasks.properties):
            yield _row(split, item, prop, prompts.hypothetical_chat(item, prop))
    yield from _extra_chats(params)


def _extra_chats(params: Params) -> Iterator[dict]:
    """The shift source's prompts (``shift.tasks``: object level only) and the calibration
    variant's (object level and its one property), drawn as the ``extra_items`` rule draws
    them."""
    variant = params.calibration.variant
    for split, props in (("shift", () if params.shift.on_new_prompts else None),
                         ("calibration", None if variant is None else (variant.property,))):
        if props is None:
            continue
        counts, offsets = params.extra_split(split)
        files = task_files.split_sources(params.tasks.files, list(counts))
        items = task_files.extra_items(split, counts, offsets, params.seed, files)
        for item in items:
            yield _row(split, item, None,
                       prompts.object_chat(item, params.generation.demonstration))
        for item in items:
            for prop in props:
                yield _row(split, item, prop, prompts.hypothetical_chat(item, prop))


def _row(split: str, item, prop: str | None, messages: list[dict]) -> dict:
    return {"split": split, "task": item.task, "item_id": item.item_id, "property": prop,
            "messages": messages}


def write_study_chats(params: Params, out: TextIO | None = None) -> int:
    """Write ``study_chats`` as JSONL to ``out`` (standard output, as it is when called: a
    default bound at import would keep a replaced stream); returns the number of rows."""
    out = out or sys.stdout
    n = 0
    for row in study_chats(params):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        n += 1
    return n
