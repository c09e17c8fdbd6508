"""Task files named in params.yaml: jsonl and the paper's DataRow release, their tasks, the
files each split reads (the items rule's inputs) and the errors for bad entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from inward.config.validation import ParamsError, validate_params
from inward.tasks import task_files

ROOT = Path(__file__).resolve().parents[2]
RELEASE = ROOT.parent / "shared" / "paper-release"  # ../shared beside the checkout


def tiny_params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def datarow(dataset: str, question: str, stance=None) -> dict:
    return {"original_question": question, "original_dataset": dataset,
            "object_level_prompt": [{"role": "user", "content": f"Continue: {question}"}],
            "hypothetical_prompt": [{"role": "user", "content": "What was the first word?"}],
            "behavioral_property": "first_word", "option_matching_ethical_stance": stance}


@pytest.fixture
def release(tmp_path) -> Path:
    """A small release-like folder: two datasets in the test folder, one in train."""
    root = tmp_path / "release"
    (root / "test").mkdir(parents=True)
    (root / "train").mkdir()
    rows = [datarow("animals_long", f"cat dog {i}") for i in range(5)]
    (root / "test" / "animals_long_first_word.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    rows = [datarow("myopic_reward", f"A or B {i}?", "A") for i in range(4)]
    (root / "test" / "myopic_reward_ethical_stance.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    rows = [datarow("wealth_seeking", f"money {i}?", "B") for i in range(3)]
    (root / "train" / "wealth_seeking_ethical_stance.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows))
    return root


def user_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.jsonl"
    path.write_text('{"id": "a", "prompt": "Say hi"}\n{"id": "b", "prompt": "Say bye"}\n')
    return path


def test_formats_are_detected(tmp_path, release):
    assert task_files.detect_format(user_file(tmp_path)) == "jsonl"
    assert task_files.detect_format(release) == "paper"
    assert task_files.detect_format(release / "test" / "animals_long_first_word.jsonl") == "paper"


def test_a_release_folder_provides_each_dataset_with_its_files(tmp_path, release):
    tasks_cfg = {"train": ["wealth_seeking"], "test": ["animals_long", "mine"],
                 "files": {"paper": str(release), "mine": str(user_file(tmp_path))}}
    found = task_files.sources(tasks_cfg["files"])
    assert set(found) == {"animals_long", "myopic_reward", "wealth_seeking", "mine"}
    animals = sorted(str(f) for f in (release / "test").glob("animals_long_*.jsonl"))
    assert list(found["animals_long"].files) == animals   # one file per property in the release
    assert task_files.split_inputs(tasks_cfg["files"], tasks_cfg["train"]) == [
        str(release / "train/wealth_seeking_ethical_stance.jsonl")]
    assert task_files.split_inputs(tasks_cfg["files"], tasks_cfg["test"]) == sorted(
        [*animals, str(tmp_path / "mine.jsonl")])
    assert set(task_files.split_sources(tasks_cfg["files"], tasks_cfg["test"])) == {
        "animals_long", "mine"}


def test_a_declared_format_wins_and_a_wrong_one_is_refused(tmp_path, release):
    mine = user_file(tmp_path)
    with pytest.raises(ValueError, match=r"tasks\.files\.x: .* holds no DataRow line"):
        task_files.entry_sources("x", {"path": str(mine), "format": "paper"})
    with pytest.raises(ValueError, match=r"tasks\.files\.x: .* is a folder; a jsonl task is one"):
        task_files.entry_sources("x", {"path": str(release), "format": "jsonl"})
    with pytest.raises(ValueError, match=r"tasks\.files\.x: file '/nowhere' does not exist"):
        task_files.entry_sources("x", "/nowhere")


def test_paper_items_are_a_seeded_draw_with_targets(release):
    src = task_files.entry_sources("paper", str(release))
    items = task_files.load_task("myopic_reward", src["myopic_reward"].param(), 3, 0, "test")
    assert len(items) == 3 and {it.target for it in items} == {"A"}
    assert all(it.split == "test" and it.task == "myopic_reward" for it in items)
    again = task_files.load_task("myopic_reward", src["myopic_reward"].param(), 3, 0, "test")
    assert items == again
    seq = task_files.load_task("animals_long", src["animals_long"].param(), 9, 0, "test")
    assert len(seq) == 5 and all(it.target is None for it in seq)  # fewer rows than asked


def test_params_name_release_tasks_and_errors_name_key_and_allowed(tmp_path, release):
    params = tiny_params()
    params["tasks"]["files"] = {"paper": {"path": str(release), "format": "paper"}}
    params["tasks"]["test"] = ["animals_long", "myopic_reward"]
    validate_params(params)
    params["tasks"]["test"] = ["animals_lung"]
    with pytest.raises(ParamsError, match=r"tasks\.test\[0\]: unknown task 'animals_lung'; "
                                          r"allowed: .*animals_long"):
        validate_params(params)
    params["tasks"]["files"] = {"paper": {"path": str(release), "format": "csv"}}
    with pytest.raises(ParamsError, match=r"tasks\.files\.paper"):
        validate_params(params)


def test_release_tasks_get_their_kinds_and_properties():
    from inward.tasks.properties import applicable

    assert applicable("animals_long", "first_word")
    assert applicable("myopic_reward", "matches_target")
    assert not applicable("animals_long", "matches_target")


@pytest.mark.skipif(not RELEASE.is_dir(), reason="the paper's release sample is not here")
def test_the_shared_paper_release_loads_as_params_tasks():
    params = tiny_params()
    params["tasks"]["files"] = {"paper": str(RELEASE)}
    params["tasks"]["train"] = ["wealth_seeking", "arc_challenge_non_cot"]
    params["tasks"]["test"] = ["english_words_long", "myopic_reward", "stories_sentences"]
    validate_params(params)
    found = task_files.sources(params["tasks"]["files"])
    assert found["english_words_long"].format == "paper"
    mc = task_files.load_task("arc_challenge_non_cot", found["arc_challenge_non_cot"].param(),
                              4, 0, "train")
    assert len(mc) == 4 and all(it.target is None or it.target in "ABCD" for it in mc)
    stance = task_files.load_task("myopic_reward", found["myopic_reward"].param(), 4, 0, "test")
    assert all(it.target in ("A", "B") for it in stance)
    assert task_files.split_inputs(params["tasks"]["files"], params["tasks"]["test"]) == sorted(
        str(RELEASE / "test" / f) for f in ["english_words_long_first_word.jsonl",
                                            "myopic_reward_ethical_stance.jsonl",
                                            "stories_sentences_third_word.jsonl"])
