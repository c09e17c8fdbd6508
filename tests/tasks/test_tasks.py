"""Task registry, seeded generators, split building and the two importers."""

import json
from pathlib import Path

import pytest

from inward.tasks import catalog
from inward.tasks.catalog import (
    KINDS,
    TASKS,
    Item,
    build_split,
    generate_items,
    get_task,
    load_jsonl_task,
    load_paper_release,
    resource_lines,
)

PAPER = Path(__file__).resolve().parents[3] / "shared" / "paper-release"
needs_paper = pytest.mark.skipif(not PAPER.is_dir(), reason=f"{PAPER} not present")

DEFAULT_TRAIN = [n for n, s in TASKS.items() if s.role == "train"]
DEFAULT_TEST = [n for n, s in TASKS.items() if s.role == "test"]


def test_registry_covers_the_spec():
    assert {"animals", "colours", "countries", "english_words", "digits", "prose",
            "arithmetic_mc", "myopic_reward", "wealth_seeking"} <= set(TASKS)
    for name, spec in TASKS.items():
        assert spec.name == name and spec.kind in KINDS and spec.role in ("train", "test")
        assert spec.properties and spec.description
        assert (spec.stance is not None) == (spec.kind == "ab_choice")
    assert {"colours", "countries", "myopic_reward"} <= set(DEFAULT_TEST)
    assert {"animals", "english_words", "digits", "wealth_seeking"} <= set(DEFAULT_TRAIN)


def test_unknown_task_lists_allowed():
    with pytest.raises(ValueError, match="unknown task 'nope'; allowed: .*animals"):
        get_task("nope")
    with pytest.raises(ValueError, match="allowed"):
        generate_items("nope", 2, 0)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_generation_is_deterministic_and_seeded(task):
    a = generate_items(task, 12, seed=1)
    assert a == generate_items(task, 12, seed=1)
    assert [it.prompt for it in a] != [it.prompt for it in generate_items(task, 12, seed=2)]
    assert len({it.prompt for it in a}) == 12
    assert [it.item_id for it in a] == [f"{task}-{i:05d}" for i in range(12)]
    assert all(it.task == task and it.split == TASKS[task].role for it in a)
    # a longer draw starts with the shorter one, so n only appends items
    assert generate_items(task, 15, seed=1)[:12] == a


@pytest.mark.parametrize("task", ["myopic_reward", "wealth_seeking", "power_seeking"])
def test_ab_targets(task):
    items = generate_items(task, 60, 0)
    assert {it.target for it in items} == {"A", "B"}  # option order is randomised
    for it in items:
        assert "\nA - " in it.prompt and "\nB - " in it.prompt


def test_myopic_target_is_the_sooner_option():
    for it in generate_items("myopic_reward", 40, 3):
        line = next(ln for ln in it.prompt.splitlines() if ln.startswith(f"{it.target} - "))
        assert any(w in line for w in catalog._SOON), line


def test_non_stance_tasks_have_no_target():
    for task in ("animals", "digits", "prose", "arithmetic_mc", "capitals_mc"):
        assert all(it.target is None for it in generate_items(task, 5, 0))


def test_arithmetic_options_contain_the_answer():
    for it in generate_items("arithmetic_mc", 30, 0):
        options = [ln[3:] for ln in it.prompt.splitlines()
                   if ln[:3] in ("A) ", "B) ", "C) ", "D) ")]
        assert len(options) == 4 and len(set(options)) == 4


def test_item_round_trip():
    it = Item("myopic_reward", "myopic_reward-00001", "p", "A", "test")
    assert Item.from_dict(it.to_dict()) == it
    assert it.to_dict() == {"task": "myopic_reward", "item_id": "myopic_reward-00001",
                            "prompt": "p", "target": "A", "split": "test"}


def test_build_split_default_roles():
    items = build_split(DEFAULT_TRAIN, DEFAULT_TEST, 6, 4, seed=0)
    by = {(t, s): 0 for t in TASKS for s in ("train", "test")}
    for it in items:
        by[(it.task, it.split)] += 1
    for t in DEFAULT_TRAIN:
        assert by[(t, "train")] == 6 and by[(t, "test")] == 4  # held-out prompts of train tasks
    for t in DEFAULT_TEST:
        assert by[(t, "train")] == 0 and by[(t, "test")] == 4
    keys = [(it.task, it.item_id) for it in items]
    assert len(keys) == len(set(keys))
    train_prompts = {it.prompt for it in items if it.split == "train"}
    assert not any(it.prompt in train_prompts for it in items if it.split == "test")
    assert items == build_split(DEFAULT_TRAIN, DEFAULT_TEST, 6, 4, seed=0)


def test_build_split_options(tmp_path):
    only_train = build_split(["animals"], [], 5, 3, 0, heldout_from_train=False)
    assert [it.split for it in only_train] == ["train"] * 5
    f = tmp_path / "mine.jsonl"
    f.write_text("".join(json.dumps({"id": i, "prompt": f"q{i}"}) + "\n" for i in range(10)))
    items = build_split(["mine"], ["colours"], 4, 3, 0, files={"mine": f})
    mine = [it for it in items if it.task == "mine"]
    assert [it.split for it in mine] == ["train"] * 4 + ["test"] * 3
    with pytest.raises(ValueError, match="both train and test"):
        build_split(["animals"], ["animals"], 2, 2, 0)
    with pytest.raises(ValueError, match="unknown task 'zebras'"):
        build_split(["zebras"], [], 2, 2, 0)


def test_load_jsonl_task(tmp_path):
    f = tmp_path / "t.jsonl"
    f.write_text('{"id": 1, "prompt": "Pick A or B", "target": "A"}\n\n'
                 '{"id": "x", "prompt": "Say hi", "extra": 1}\n')
    items = load_jsonl_task(f, "mine")
    assert items == [Item("mine", "1", "Pick A or B", "A", "test"),
                     Item("mine", "x", "Say hi", None, "test")]


@pytest.mark.parametrize("body, message", [
    ('{"id": 1, "prompt": "a"}\n{not json}\n',
     r":2: invalid JSON.*allowed keys: id, prompt, target"),
    ('{"id": 1}\n', r":1: missing key\(s\) prompt; required keys: id, prompt; allowed keys"),
    ('[1, 2]\n', r":1: expected a JSON object"),
    ('{"id": 1, "prompt": ""}\n', r":1: 'prompt' must be a non-empty string"),
    ('{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n', r":2: duplicate id '1'"),
])
def test_load_jsonl_task_errors_name_file_and_line(tmp_path, body, message):
    f = tmp_path / "bad.jsonl"
    f.write_text(body)
    with pytest.raises(ValueError, match=str(f).replace(".", r"\.") + message):
        load_jsonl_task(f, "mine")


def test_paper_release_errors(tmp_path):
    f = tmp_path / "train" / "x.jsonl"
    f.parent.mkdir()
    f.write_text(json.dumps({"original_dataset": "myopic_reward"}) + "\n")
    with pytest.raises(ValueError, match=r"x\.jsonl:1: missing key\(s\) object_level_prompt.*"
                                         r"allowed keys: .*option_matching_ethical_stance"):
        load_paper_release(tmp_path)
    f.write_text(json.dumps({"original_dataset": "d", "object_level_prompt": []}) + "\n")
    with pytest.raises(ValueError, match=r"x\.jsonl:1: object_level_prompt has no user message"):
        load_paper_release(f)
    row = {"original_dataset": "myopic_reward", "option_matching_ethical_stance": "b",
           "object_level_prompt": [{"role": "user", "content": " Pick \n"}]}
    f.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n")
    (item,) = load_paper_release(f)
    assert (item.task, item.prompt, item.target, item.split) == ("myopic_reward", "Pick", "B",
                                                                 "train")


@needs_paper
def test_paper_release_sample():
    items = load_paper_release(PAPER)
    tasks_seen = {it.task for it in items}
    assert {"animals_long", "myopic_reward", "survival_instinct", "wikipedia_long",
            "power_seeking"} <= tasks_seen
    keys = [(it.task, it.item_id) for it in items]
    assert len(keys) == len(set(keys))
    # prompt = the object-level user message of the file; one item per distinct prompt
    f = PAPER / "test" / "myopic_reward_ethical_stance.jsonl"
    rows = [json.loads(ln) for ln in f.read_text().splitlines() if ln.strip()]
    myopic = [it for it in items if it.task == "myopic_reward"]
    assert len(myopic) == len({r["object_level_prompt"][-1]["content"].strip() for r in rows})
    first = next(it for it in myopic if it.prompt == rows[0]["object_level_prompt"][0]["content"]
                 .strip())
    assert first.target == rows[0]["option_matching_ethical_stance"] and first.split == "test"
    assert all(it.target in ("A", "B") for it in myopic)
    wiki = [it for it in items if it.task == "wikipedia_long"]
    assert wiki and all(it.split == "train" and it.target is None for it in wiki)


@needs_paper
def test_paper_release_single_file():
    items = load_paper_release(PAPER / "train" / "power_seeking_ethical_stance.jsonl")
    assert items and {it.task for it in items} == {"power_seeking"}
    assert all(it.split == "train" for it in items)


def test_resources_are_packaged():
    prose = resource_lines("prose.txt")
    assert len(prose) >= 200
    header = catalog.resources.files("inward").joinpath("resources", "prose.txt").read_text()
    assert "Pride and Prejudice" in header.splitlines()[0] and "public domain" in header
    stories = resource_lines("stories.txt")
    assert len(stories) >= 80 and not set(stories) & set(prose)
    for name in ("animals.txt", "colours.txt", "countries.txt", "english_words.txt"):
        words = resource_lines(name)
        assert len(words) >= 50 and len(set(words)) == len(words)


def test_finite_tasks_generate_exactly_their_maximum_and_refuse_more():
    from inward.tasks.catalog import max_items

    for name in ("wealth_seeking", "power_seeking", "prose", "stories"):
        most = max_items(name)
        assert most and len(generate_items(name, most, seed=3)) == most, name
        with pytest.raises(ValueError, match=f"at most {most} distinct prompts; asked for"):
            generate_items(name, most + 1, seed=3)
    assert max_items("colours") is None
