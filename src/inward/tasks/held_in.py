"""Held-in items (``tasks.n_held_in_items``): new prompts of the training tasks.

They come from the same seeded draw as the training items, right after them
(``task_files.extra_items`` with the training items as the offset; for a built-in task this is
``catalog.build_split`` with ``heldout_from_train``), so they never repeat a training prompt
and the training items stay exactly what they are without them. A built-in task draws further
from its generator, a paper-release task takes the next rows of its seeded order; a user's
JSONL training task is trained on whole and gives none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from inward.tasks import catalog, task_files

SPLIT = "heldin"
"""The ``split`` of a held-in item (``data/items/heldin.jsonl``)."""


def held_in_items(train_tasks: Sequence[str], n_train: int, n_held_in: int, seed: int,
                  files: Mapping[str, Mapping[str, str]] | None = None) -> list[catalog.Item]:
    """``n_held_in`` items of every training task but a user's JSONL one, disjoint from its
    ``n_train`` training items. ``files``: the training tasks' sources
    (``task_files.split_sources``)."""
    files = dict(files or {})
    spare = [t for t in train_tasks if files.get(t, {}).get("format") != "jsonl"]
    return task_files.extra_items(SPLIT, {t: n_held_in for t in spare},
                                  {t: n_train for t in spare}, seed,
                                  {t: files[t] for t in spare if t in files})
