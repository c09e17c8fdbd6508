"""The paper's protocol as configuration: the `paper` preset and `inward init`, the shift's
source and prompts (`shift:`), the calibration variant (`calibration.variant`), the items they
draw, the agents and files they add, and the paired calibration distributions."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from inward.cli import main
from inward.config.preset import render_preset, write_preset
from inward.config.types import ShiftConfig
from inward.config.validation import ParamsError, validate_params
from inward.pipeline.study_prompts import study_chats
from inward.scoring.calibration import calibration_mad
from inward.scoring.frames import paired_distributions
from inward.study import layout
from inward.tasks import task_files
from inward.tasks.catalog import Item

ROOT = Path(__file__).resolve().parents[2]
TINY = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
PRESET = yaml.safe_load(render_preset("paper", ROOT))  # any folder: only the text is read


def tiny(**sections) -> dict:
    p = copy.deepcopy(TINY)
    for key, value in sections.items():
        p[key] = value
    return p


def write_release(root: Path, rows_per_task: int = 12) -> Path:
    """A release folder with every task of the paper preset's split (one property file each)."""
    tasks = {"train": {t: p for t, p in [("wikipedia_long", "first_word"),
                                         ("colors_long", "first_word"),
                                         ("countries_long", "first_word"),
                                         ("arc_challenge_non_cot", "among_a_or_c"),
                                         ("wealth_seeking", "ethical_stance"),
                                         ("power_seeking", "ethical_stance")]},
             "test": {t: p for t, p in [("animals_long", "second_character"),
                                        ("english_words_long", "first_word"),
                                        ("stories_sentences", "third_word"),
                                        ("mmlu_non_cot", "among_b_or_d"),
                                        ("myopic_reward", "ethical_stance"),
                                        ("survival_instinct", "ethical_stance")]}}
    for split, by_task in tasks.items():
        (root / split).mkdir(parents=True)
        for task, prop in by_task.items():
            with (root / split / f"{task}_{prop}.jsonl").open("w") as fh:
                for i in range(rows_per_task):
                    q = f"{task} prompt {i}"
                    fh.write(json.dumps({
                        "original_question": q, "original_dataset": task,
                        "object_level_prompt": [{"role": "user", "content": q}],
                        "hypothetical_prompt": [{"role": "user", "content": f"about: {q}"}],
                        "behavioral_property": prop,
                        "option_matching_ethical_stance": "A" if "ethical" in prop else None})
                        + "\n")
    return root


# --- the preset ----------------------------------------------------------------------------------
def test_init_writes_the_paper_preset_and_checks_it(tmp_path, monkeypatch, capsys):
    release = write_release(tmp_path / "release")
    out = tmp_path / "params.yaml"
    monkeypatch.delenv("SHIFT_SOURCE_API_KEY", raising=False)
    # the outside source's key is not set: the file is written, and check-params says so
    assert main(["init", "--preset", "paper", "--release", str(release), "--out", str(out)]) == 2
    assert "models.shift_source.api_key_env: the environment variable 'SHIFT_SOURCE_API_KEY'" \
        in capsys.readouterr().err
    monkeypatch.setenv("SHIFT_SOURCE_API_KEY", "k")
    assert main(["check-params", str(out)]) == 0
    written = yaml.safe_load(out.read_text())
    assert written["tasks"]["files"]["paper"]["path"] == str(release.resolve())
    typed = validate_params(written)
    assert typed.under_study == ("smollm2", "gemma3")
    assert typed.shift.source == "shift_source" and typed.shift.n_answers == 1000
    assert typed.shift.per_task() == dict.fromkeys(typed.shift.tasks, 200)
    assert typed.sft.replay_per_task == 0 and typed.sft.shift_anchors == 0
    assert typed.sft.cap_per_group == 400 and not typed.generation.demonstration
    assert typed.calibration.n_samples == 20 and typed.calibration.variant.n_items == 500
    assert typed.tasks.train[0] == "wikipedia_long" and "numbers" not in typed.tasks.train
    assert typed.cross.scaling == (0.0333, 0.1667, 0.3333, 0.6667)  # 1k..20k of 30k
    # an existing params.yaml is kept
    assert main(["init", "--preset", "paper", "--release", str(release), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err


def test_the_preset_needs_a_release_folder(tmp_path):
    with pytest.raises(ValueError, match="--release: the 'paper' preset reads"):
        render_preset("paper", None)
    with pytest.raises(ValueError, match="is not a folder"):
        write_preset("paper", tmp_path / "p.yaml", tmp_path / "missing")
    with pytest.raises(ValueError, match="unknown preset 'papr'; allowed: paper"):
        render_preset("papr", tmp_path)


# --- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize("sections, expected", [
    ({"shift": {"source": "claude"}}, r"shift\.source: unknown model 'claude'; allowed: smollm2"),
    ({"shift": {"tasks": ["animals", "unicorns"]}},
     r"shift\.tasks\[1\]: unknown task 'unicorns'; allowed: .*animals"),
    ({"shift": {"tasks": ["animals", "colours"], "n_answers": 1}},
     r"shift\.n_answers: 1 answers cannot be dealt over 2 tasks; allowed: at least 2"),
    ({"shift": {"tasks": ["riddles"]}},
     r"shift\.n_answers: task 'riddles' comes from the user file .*allowed: built-in tasks"),
    ({"shift": {"tasks": ["wealth_seeking"], "n_answers": 10 ** 6}},
     r"shift\.n_answers: .* new prompts of task 'wealth_seeking' after the "
     rf"{TINY['tasks']['n_train_items'] + TINY['tasks'].get('n_held_in_items', 0)} "
     r"the study already uses .*allowed: at most"),
    ({"calibration": {**TINY["calibration"], "variant": {"task": "myopic_reward"}}},
     r"calibration\.variant\.property: 'second_character' is not asked of task "
     r"'myopic_reward'; allowed: matches_target"),
    ({"calibration": {**TINY["calibration"], "variant": {"n_items": 1}}},
     r"calibration\.variant\.n_items: 1 is less than the minimum of 2"),
])
def test_bad_shift_and_variant_values_are_named(sections, expected, monkeypatch):
    monkeypatch.chdir(ROOT / "tests" / "configs")  # tiny.yaml's task file path is relative
    p = tiny(**sections)
    p["tasks"]["files"] = {"riddles": "tasks/riddles.jsonl"}
    with pytest.raises(ParamsError, match=expected):
        validate_params(p)


def test_a_model_not_under_study_must_be_the_shift_source():
    p = tiny()
    p["models"]["gemma3"]["under_study"] = False
    with pytest.raises(ParamsError, match=r"models\.gemma3\.under_study: false, but "
                                          r"shift\.source is None"):
        validate_params(p, check_inputs=False)
    p["shift"] = {"source": "gemma3"}
    p.get("cross", {})["scaling"] = []  # the cross branches need a second model under study
    assert validate_params(p, check_inputs=False).under_study == ("smollm2",)


def test_shift_answers_are_dealt_evenly():
    assert ShiftConfig(tasks=("a", "b", "c"), n_answers=1000).per_task() == \
        {"a": 334, "b": 333, "c": 333}
    assert ShiftConfig().per_task() == {} and not ShiftConfig().on_new_prompts


# --- the items they draw -------------------------------------------------------------------------
def test_shift_and_variant_items_repeat_no_prompt_of_the_study(tmp_path):
    p = tiny(shift={"source": "gemma3", "tasks": ["animals", "myopic_reward", "next_animal"],
                    "n_answers": 7},
             calibration={**TINY["calibration"],
                          "variant": {"task": "next_animal", "n_items": 4}})
    p["tasks"]["files"] = {}
    p["tasks"]["test"] = ["myopic_reward"]
    p["tasks"]["n_held_in_items"] = 2  # held-in prompts of the training tasks come first
    typed = validate_params(p, check_inputs=False)
    counts, offsets = typed.extra_split("shift")
    assert counts == {"animals": 3, "myopic_reward": 2, "next_animal": 2}
    assert offsets == {"animals": 4 + 2, "myopic_reward": 3, "next_animal": 0}
    v_counts, v_offsets = typed.extra_split("calibration")
    assert v_counts == {"next_animal": 4} and v_offsets == {"next_animal": 2}
    chats = list(study_chats(typed))
    by_split: dict = {}
    for row in chats:
        if row["property"] is None:
            by_split.setdefault(row["split"], []).append((row["task"],
                                                           row["messages"][-1]["content"]))
    assert {s: len(v) for s, v in by_split.items()} == {"train": 8, "test": 3, "shift": 7,
                                                        "calibration": 4}
    every = [prompt for rows in by_split.values() for prompt in rows]
    assert len(every) == len(set(every))  # no prompt in two splits
    # the variant's hypothetical question: its one property, nothing else
    assert {r["property"] for r in chats if r["split"] == "calibration"} == \
        {None, "second_character"}
    assert {r["property"] for r in chats if r["split"] == "shift"} == {None}


def test_release_tasks_give_the_shift_rows_the_held_out_split_left(tmp_path):
    release = write_release(tmp_path / "release", rows_per_task=6)
    files = task_files.split_sources({"paper": {"path": str(release), "format": "paper"}},
                                     ["myopic_reward"])
    test = task_files.split_items("test", ["myopic_reward"], 4, 0, files)
    shift = task_files.extra_items("shift", {"myopic_reward": 2}, {"myopic_reward": 4}, 0, files)
    assert {it.prompt for it in test}.isdisjoint(it.prompt for it in shift)
    assert len({it.prompt for it in test} | {it.prompt for it in shift}) == 6
    assert all(it.split == "shift" and it.messages for it in shift)  # release chats kept
    with pytest.raises(ValueError, match="has 6 prompts, 4 of them used .* 3 more asked"):
        task_files.extra_items("shift", {"myopic_reward": 3}, {"myopic_reward": 4}, 0, files)


# --- agents and files ----------------------------------------------------------------------------
def test_a_named_source_shifts_every_model_but_itself():
    plan = layout.ShiftPlan("claude", "shift")
    models = ["a", "b"]
    assert [plan.source_of(models, m) for m in models] == ["claude", "claude"]
    assert ("claude", "shift") in layout.object_needs(models, plan)
    assert ("claude", "train") not in layout.object_needs(models, plan)
    # one model under study: a shift only with a named source
    assert layout.comparisons(["a"])[0].shift is None
    assert layout.comparisons(["a"], plan)[0].shift == "a__shift"
    # a source under study takes the next model for its own shift
    inside = layout.ShiftPlan("a", "train")
    assert [inside.source_of(models, m) for m in models] == ["b", "a"]
    files = layout.study_files(models, plan, variant=True)
    assert "data/items/shift.jsonl" in files and "data/items/calibration.jsonl" in files
    assert "results/calibration/b__cross__a/variant_hypothetical.jsonl" in files
    assert "results/object/claude/shift.jsonl" in files
    assert not any("claude__" in f for f in files)  # the source gets no finetune
    assert layout.study_files(models) == layout.study_files(models, layout.ShiftPlan(), False)


# --- paired distributions ------------------------------------------------------------------------
def test_paired_samples_drop_a_pair_whose_object_sample_has_no_value():
    items = [Item("next_animal", "n1", "list", None, "test")]
    # second characters: "o" (cow), none ("x": one character), "o" (dog), "a" (cat)
    obj = [{"task": "next_animal", "item_id": "n1", "samples": ["cow", "x", "dog", "cat"]}]
    hyp = [{"task": "next_animal", "item_id": "n1", "property": "second_character",
            "samples": ["o", "a", "sorry, no idea", "a"]}]
    o, h = paired_distributions(items, obj, hyp, "second_character")
    # 3 pairs kept: object o, o, a; hypothetical o, (non-compliant), a
    assert o.row(0, named=True)["values"] == ["o", "a"]
    assert o.row(0, named=True)["probs"] == pytest.approx([2 / 3, 1 / 3])
    assert dict(zip(*h.select("values", "probs").row(0), strict=True)) == \
        pytest.approx({"a": 1 / 3, "o": 1 / 3})
    # the MAD of that one item, by hand: pairs (2/3, 1/3) and (1/3, 1/3), one bin each of 2
    result = calibration_mad(o, h, n_bins=2, top_k=3, n_boot=0)
    assert result["mad"] == pytest.approx(100 * (abs(2 / 3 - 1 / 3) + 0) / 2)
    with pytest.raises(ValueError, match="4 object samples but 3 hypothetical"):
        paired_distributions(items, obj, [{**hyp[0], "samples": ["o", "a", "a"]}],
                             "second_character")
