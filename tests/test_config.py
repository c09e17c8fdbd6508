import copy
from pathlib import Path

import pytest
import yaml

from inward.config import ParamsError, load_params, validate_params

ROOT = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def params(**edits):
    p = copy.deepcopy(PARAMS)
    for dotted, value in edits.items():
        *path, last = dotted.split(".")
        node = p
        for k in path:
            node = node[k]
        node[last] = value
    return p


def test_the_shipped_params_are_valid():
    assert load_params(ROOT / "params.yaml")["models"]


@pytest.mark.parametrize("edit, expected", [
    ({"finetune.self.learning_rate": "fast"}, r"finetune\.self\.learning_rate: 'fast' is not of type 'number'"),
    ({"tasks.n_test_items": 0}, r"tasks\.n_test_items: 0 is less than the minimum"),
    ({"tasks.test": ["colours", "no_such_task"]}, r"tasks\.test\[1\]: unknown task 'no_such_task'; allowed: .*animals"),
    ({"tasks.properties": ["first_word", "fifth_word"]}, r"tasks\.properties\[1\]: unknown property 'fifth_word'; allowed: .*first_character"),
    ({"models.smollm2.backend": "vllm"}, r"models\.smollm2\.backend: 'vllm' is not one of \['local', 'openai'\]"),
    ({"models.smollm2.source": "embedded:gpt5"}, r"models\.smollm2\.source: unknown embedded model 'embedded:gpt5'; allowed: embedded:smollm2-135m"),
    ({"plots.colour": "red"}, r"plots: .*'colour' was unexpected.*allowed keys: height, scale, width"),
])
def test_each_problem_names_the_key_and_the_allowed_values(edit, expected):
    with pytest.raises(ParamsError, match=expected):
        validate_params(params(**edit))


def test_a_task_in_both_splits_is_rejected():
    with pytest.raises(ParamsError, match="both train and test"):
        validate_params(params(**{"tasks.test": PARAMS["tasks"]["train"][:1]}))


def test_model_names_may_not_contain_the_agent_separator():
    p = params()
    p["models"]["a__b"] = p["models"].pop("smollm2")
    with pytest.raises(ParamsError, match="models"):
        validate_params(p)


def test_openai_model_needs_a_model_id():
    p = params()
    p["models"]["gpt"] = {"backend": "openai"}
    with pytest.raises(ParamsError, match=r"models\.gpt: 'model' is a required property"):
        validate_params(p)


def test_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(ParamsError, match="missing.yaml: file not found"):
        load_params(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("base: [unclosed")
    with pytest.raises(ParamsError, match="bad.yaml: not valid YAML"):
        load_params(bad)


def test_all_problems_are_reported_together():
    with pytest.raises(ParamsError) as err:
        validate_params(params(**{"tasks.n_test_items": -1, "metrics.n_boot": "many"}))
    assert "tasks.n_test_items" in str(err.value) and "metrics.n_boot" in str(err.value)
