"""Held-in items: new prompts of the training tasks, never a training prompt."""

from inward.pipeline.steps import build_items, held_in_items
from inward.records.jsonl import read_jsonl
from inward.study import layout
from inward.tasks import held_in

TRAIN = ["animals", "wealth_seeking", "arithmetic_mc"]


def test_held_in_items_are_new_prompts_of_each_training_task(tmp_path):
    build_items(item_file=str(tmp_path / "train.jsonl"), split="train", task_names=TRAIN,
                n_items=6, seed=0)
    held_in_items(item_file=str(tmp_path / "heldin.jsonl"), task_names=TRAIN, n_train_items=6,
                  n_items=3, seed=0)
    train, held = read_jsonl(tmp_path / "train.jsonl"), read_jsonl(tmp_path / "heldin.jsonl")
    assert len(train) == 18 and len(held) == 9
    for task in TRAIN:
        assert sum(r["task"] == task for r in held) == 3
    assert not {r["prompt"] for r in held} & {r["prompt"] for r in train}
    assert not {(r["task"], r["item_id"]) for r in held} & {(r["task"], r["item_id"])
                                                            for r in train}
    assert {r["split"] for r in held} == {layout.HELD_IN}
    # the same draw after the training prompts: what 9 training items per task would be
    build_items(item_file=str(tmp_path / "nine.jsonl"), split="train", task_names=TRAIN,
                n_items=9, seed=0)
    nine = read_jsonl(tmp_path / "nine.jsonl")
    assert [r["prompt"] for r in nine if r not in train] == [r["prompt"] for r in held]


def test_a_users_jsonl_task_gives_none():
    files = {"my_file_task": {"entry": "my_file_task", "format": "jsonl", "path": "x.jsonl"}}
    items = held_in.held_in_items(["animals", "my_file_task"], 4, 2, 0, files)
    assert [it.task for it in items] == ["animals", "animals"]


def test_a_paper_release_task_gives_its_next_rows(tmp_path):
    """The release's rows in the study's seeded order: training takes the first, held-in the
    next ones."""
    import json

    from inward.tasks import task_files

    rows = [{"original_dataset": "wealth_seeking",
             "object_level_prompt": [{"role": "user", "content": f"Option question {i}?"}],
             "option_matching_ethical_stance": "A"} for i in range(8)]
    (tmp_path / "rel.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    files = task_files.split_sources({"rel": {"path": str(tmp_path / "rel.jsonl"),
                                              "format": "paper"}}, ["wealth_seeking"])
    train = task_files.split_items("train", ["wealth_seeking"], 5, 0, files)
    held = held_in.held_in_items(["wealth_seeking"], 5, 3, 0, files)
    assert len(train) == 5 and len(held) == 3
    assert {it.prompt for it in train} | {it.prompt for it in held} == {
        f"Option question {i}?" for i in range(8)}


def test_the_split_name_is_the_layouts():
    assert held_in.SPLIT == layout.HELD_IN
