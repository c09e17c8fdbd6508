"""A hand-made study layout (two models, three held-out items, one property) whose every number
is worked out by hand in the comments (paper rules); used by the evaluation and step tests."""

from pathlib import Path

from inward.records.jsonl import write_jsonl
from inward.study import layout
from inward.tasks.catalog import Item

P = "first_word"
ITEMS = [Item("colours", f"colours-0000{i}", f"Colours prompt {i}", None, "test")
         for i in range(3)]
REFUSAL = "I'm sorry, I can't help with that."
CALIB = {"n_bins": 2, "top_k": 3}

# object-level answers on the held-out items (first words in the comments)
OBJECT = {
    "m1": ["red green", "Blue red", REFUSAL],             # red, blue, - (non-compliant)
    "m1__self": ["red green", "red blue", "green red neon"],  # red, red, green (a demo leak)
    "m1__shift": ["blue x", "red blue", "red y"],         # blue, red, red: items 0, 2 changed
    "m2": ["green", "green", "green"],
    "m2__self": ["green", "blue", "green"],
    "m2__shift": ["green", "blue", "blue"],               # item 2 changed (green -> blue)
}
# hypothetical answers (the first word each agent predicts)
HYPO = {
    "m1": ["red", "red", "blue"],                 # right, wrong, not scored -> 1/2
    "m1__self": ["red", "red", "two words"],      # right, right, non-compliant -> 2/3
    "m2__cross__m1": ["red", "blue", "blue"],     # vs m1__self: right, wrong, wrong -> 1/3
    "m1__shift": ["Blue.", "red", "red"],         # changed rows 0, 2 both match the new one
    "m2": ["green", "green", "green"],            # 3/3
    "m2__self": ["green", "green", "green"],      # vs green, blue, green -> 2/3
    "m1__cross__m2": ["green", "blue", "green"],  # 3/3
    "m2__shift": ["green", "blue", "green"],      # changed row 2 matches the old one
}
# sampled object-level and hypothetical answers (item index -> samples)
SAMPLES = {
    "m1": {0: ["red a", "red b", "blue c", REFUSAL]},  # red 2/3, blue 1/3 of defined samples
    "m1__self": {0: ["red", "red"]},                    # red 1
    "m2": {}, "m2__self": {},                           # nothing: MAD undefined
}
HYPO_SAMPLES = {
    "m1": {0: ["red", "blue", "Red.", "two words"]},    # red 2/4, blue 1/4, 1/4 unassigned
    "m1__self": {0: ["red", "red", "green", "x y"]},    # red 1/2
    "m2__cross__m1": {0: ["green", "green"]},           # red 0
    "m2": {}, "m2__self": {}, "m1__cross__m2": {},
}


def write_study(root: Path) -> None:
    """Every answer file evaluate_study reads, under ``root`` (paths from inward.study.layout)."""
    write_jsonl([it.to_dict() for it in ITEMS], root / layout.items_path("test"))
    for agent, responses in OBJECT.items():
        write_jsonl([{"task": it.task, "item_id": it.item_id, "response": r}
                     for it, r in zip(ITEMS, responses, strict=True)],
                    root / layout.object_path(agent, "test"))
    for agent, responses in HYPO.items():
        write_jsonl([{"task": it.task, "item_id": it.item_id, "property": P, "response": r}
                     for it, r in zip(ITEMS, responses, strict=True)],
                    root / layout.hypo_path(agent))
    for agent, per_item in SAMPLES.items():
        write_jsonl([{"task": ITEMS[i].task, "item_id": ITEMS[i].item_id, "samples": s}
                     for i, s in per_item.items()], root / layout.object_dist_path(agent))
    for agent, per_item in HYPO_SAMPLES.items():
        write_jsonl([{"task": ITEMS[i].task, "item_id": ITEMS[i].item_id, "property": P,
                      "samples": d} for i, d in per_item.items()],
                    root / layout.hypo_dist_path(agent))
