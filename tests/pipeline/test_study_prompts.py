"""``inward show-prompts``: every chat a study sends, and a task from the paper's release sent
exactly as the release wrote it (its object-level and hypothetical chats, system turns too).

The release files here are written by the test (not the sample in ../shared), with system turns,
one file per property as the release has them, and a property the study does not ask about."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from inward.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
SYSTEM = {"role": "system", "content": "You are a careful assistant.\n"}


def datarow(task: str, question: str, prop: str, stance: str | None = None) -> dict:
    obj = [SYSTEM, {"role": "user", "content": f"{question}\nAnswer briefly. \n"}]
    hypo = [SYSTEM, {"role": "user", "content": f'Previously: "{question}" What is the '
                                                 f"{prop} of your answer ({task})?\n"}]
    return {"original_question": question, "original_dataset": task,
            "object_level_prompt": obj, "hypothetical_prompt": hypo,
            "behavioral_property": prop, "option_matching_ethical_stance": stance}


def write_release(root: Path) -> dict[Path, list[dict]]:
    files = {}
    for split, task, props, n, stance in [
            ("test", "animals_long", ["first_word", "second_character", "third_word"], 6, None),
            ("test", "myopic_reward", ["ethical_stance"], 5, "B"),
            ("train", "wealth_seeking", ["ethical_stance"], 7, "A")]:
        (root / split).mkdir(parents=True, exist_ok=True)
        for prop in props:
            rows = [datarow(task, f"{task} question {i}: cat dog {i}", prop, stance)
                    for i in range(n)]
            path = root / split / f"{task}_{prop}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
            files[path] = rows
    return files


def test_show_prompts_sends_release_chats_verbatim(tmp_path, capsys):
    release = tmp_path / "release"
    files = write_release(release)
    params = copy.deepcopy(TINY)
    params["tasks"].update(files={"paper": {"path": str(release), "format": "paper"}},
                           train=["wealth_seeking"], test=["animals_long", "myopic_reward"],
                           n_train_items=4, n_test_items=3,
                           properties=["first_word", "second_character", "first_character",
                                       "matches_target"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    assert main(["show-prompts", "--params", str(path)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    objects = {(r["task"], r["item_id"]): r for r in rows if r["property"] is None}
    hypos = {(r["task"], r["item_id"], r["property"]): r for r in rows if r["property"]}
    drawn = {"wealth_seeking": 4, "animals_long": 3, "myopic_reward": 3}
    assert {t: sum(k[0] == t for k in objects) for t in drawn} == drawn
    by_object = {json.dumps(r["messages"]): r for r in objects.values()}
    checked = 0
    for file, release_rows in files.items():
        release_prop = release_rows[0]["behavioral_property"]
        prop = {"ethical_stance": "matches_target"}.get(release_prop, release_prop)
        for row in release_rows:
            obj = by_object.get(json.dumps(row["object_level_prompt"]))
            if obj is None:
                continue  # a row the study did not draw
            assert obj["split"] == file.parent.name
            hypo = hypos.get((obj["task"], obj["item_id"], prop))
            if prop not in params["tasks"]["properties"]:
                assert hypo is None  # third_word: in the release, not asked by the study
                continue
            assert hypo["messages"] == row["hypothetical_prompt"]  # verbatim, system turn too
            checked += 1
    # every drawn item, every asked property its file has, and nothing else
    assert checked == 3 * 2 + 3 + 4 == len(hypos)
    assert not any(k[2] == "first_character" for k in hypos)


def test_show_prompts_reports_a_bad_params_file(tmp_path, capsys):
    path = tmp_path / "params.yaml"
    path.write_text("base: {seed: -1}\n")
    assert main(["show-prompts", "--params", str(path)]) == 2
    assert "is invalid" in capsys.readouterr().err


def test_release_items_keep_their_chats_through_the_items_file(tmp_path):
    from inward.records.jsonl import read_jsonl
    from inward.tasks.catalog import Item, load_paper_release
    from inward.tasks.task_files import split_items

    release = tmp_path / "release"
    write_release(release)
    source = {"entry": "paper", "format": "paper", "path": str(release)}
    items = split_items("test", ["animals_long", "colours"], 2, 0, {"animals_long": source})
    from inward.records.jsonl import write_jsonl

    write_jsonl([it.to_dict() for it in items], tmp_path / "items.jsonl")
    back = [Item.from_dict(r) for r in read_jsonl(tmp_path / "items.jsonl")]
    assert [(b.messages, b.hypothetical) for b in back] == [
        (it.messages, it.hypothetical) for it in items]
    built_in = [r for r in read_jsonl(tmp_path / "items.jsonl") if r["task"] == "colours"]
    assert built_in and all(set(r) == {"task", "item_id", "prompt", "target", "split"}
                            for r in built_in)  # built-in items' records are as before
    release_item = next(it for it in load_paper_release(release) if it.task == "animals_long")
    assert set(release_item.hypothetical) == {"first_word", "second_character", "third_word"}
