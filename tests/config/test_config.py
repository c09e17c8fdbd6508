import copy
from pathlib import Path

import pytest
import yaml

from inward.config.loading import load_params
from inward.config.types import LoraHparams, Params, plain
from inward.config.validation import ParamsError, validate_params

ROOT = Path(__file__).resolve().parents[2]
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
    typed = load_params(ROOT / "params.yaml")
    assert isinstance(typed, Params) and list(typed.models) == list(PARAMS["models"])
    assert plain(typed.models["gemma3"].written) == PARAMS["models"]["gemma3"]  # as written


@pytest.mark.parametrize("edit, expected", [
    ({"finetune.self.learning_rate": "fast"},
        r"finetune\.self\.learning_rate: 'fast' is not of type 'number'"),
    ({"tasks.n_test_items": 0}, r"tasks\.n_test_items: 0 is less than the minimum"),
    ({"tasks.test": ["prose", "no_such_task"]},
        r"tasks\.test\[1\]: unknown task 'no_such_task'; allowed: .*animals"),
    ({"tasks.properties": ["first_word", "fifth_word"]},
        r"tasks\.properties\[1\]: unknown property 'fifth_word'; allowed: .*first_character"),
    ({"models.smollm2.backend": "vllm"},
        r"models\.smollm2\.backend: 'vllm' is not one of \['local', 'openai', 'served'\]"),
    ({"models.smollm2.source": "embedded:gpt5"},
        r"models\.smollm2\.source: unknown embedded model 'embedded:gpt5'; "
        r"allowed: embedded:smollm2-135m"),
    ({"plots.colour": "red"}, r"plots\.colour: unknown key; allowed keys: height, scale, width"),
    ({"models.smollm2.sorce": "x"}, r"models\.smollm2\.sorce: unknown key; allowed keys: .*source"),
    ({"models.smollm2.dtype": "fp8"}, r"models\.smollm2\.dtype: 'fp8' is not one of \['auto'"),
    ({"models.smollm2.shift_finetune": {"learning_rat": 0.1}},
     r"models\.smollm2\.shift_finetune\.learning_rat: unknown key; allowed keys: .*learning_rate"),
    ({"finetune.shift.lora_rnk": 4},
        r"finetune\.shift\.lora_rnk: unknown key; allowed keys: .*lora_rank"),
    ({"finetune.shift.epochs": None}, r"finetune\.shift\.epochs: None is not of type 'integer'"),
    ({"sft.replay_weight": -1}, r"sft\.replay_weight: -1 is less than the minimum of 0"),
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
    with pytest.raises(ParamsError, match=r"bad.yaml:1:\d+: not valid YAML \(line 1, column \d+\)"):
        load_params(bad)


def test_all_problems_are_reported_together():
    with pytest.raises(ParamsError) as err:
        validate_params(params(**{"tasks.n_test_items": -1, "metrics.n_boot": "many"}))
    assert "tasks.n_test_items" in str(err.value) and "metrics.n_boot" in str(err.value)


def test_an_unknown_key_names_its_line_in_the_file(tmp_path):
    text = (ROOT / "params.yaml").read_text().replace("  gemma3:\n",
        "  gemma3:\n    api_key_evn: X\n")
    path = tmp_path / "params.yaml"
    path.write_text(text)
    line = text.splitlines().index("    api_key_evn: X") + 1
    with pytest.raises(ParamsError,
        match=rf"line {line}: models\.gemma3\.api_key_evn: unknown key"):
        load_params(path)


def test_the_schema_and_the_types_name_the_same_keys():
    """The schema refuses unknown keys and the types hold what the code reads: each key of a
    section is a field of its type, and each field (but ``written``) a key of the schema."""
    from dataclasses import fields

    from inward.config import types
    from inward.config.validation import _schema

    schema = _schema()
    sections = {
        types.ModelConfig: schema["$defs"]["model"]["properties"],
        types.LoraHparams: schema["$defs"]["lora_keys"]["properties"],
        types.TasksConfig: schema["properties"]["tasks"]["properties"],
        types.GenerationConfig: schema["properties"]["generation"]["properties"],
        types.SftConfig: schema["properties"]["sft"]["properties"],
        types.CalibrationConfig: schema["properties"]["calibration"]["properties"],
        types.MetricsConfig: schema["properties"]["metrics"]["properties"],
        types.PlotsConfig: schema["properties"]["plots"]["properties"],
        types.CrossConfig: schema["properties"]["cross"]["properties"],
    }
    for cls, keys in sections.items():
        names = {f.name for f in fields(cls)} - {"written"}
        extra_code = {"max_length"} if cls is types.LoraHparams else set()  # not user-facing
        assert names - extra_code == set(keys), cls.__name__


def test_a_missing_local_model_directory_is_refused(tmp_path):
    missing = str(tmp_path / "no-such-model")
    with pytest.raises(ParamsError, match=rf"models\.smollm2\.source: local model directory "
                       rf"'{missing}' does not exist; allowed: embedded:"):
        validate_params(params(**{"models.smollm2.source": missing}))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ParamsError, match="not a Hugging Face model directory"):
        validate_params(params(**{"models.smollm2.source": str(empty)}))
    (empty / "config.json").write_text("{}")
    validate_params(params(**{"models.smollm2.source": str(empty)}))


def test_an_uncached_hub_id_is_refused_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(ParamsError, match=r"'nobody/nothing' is neither a directory nor a hub id"):
        validate_params(params(**{"models.smollm2.source": "nobody/nothing"}))


def test_a_hosted_model_needs_its_api_key_variable(monkeypatch):
    p = params()
    p["models"]["gpt"] = {"backend": "openai", "model": "gpt-4o"}
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ParamsError, match=r"models\.gpt\.api_key_env: the environment variable "
                       r"'OPENAI_API_KEY' is not set"):
        validate_params(p)
    p["models"]["gpt"]["api_key_env"] = "INWARD_TEST_KEY"
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.delenv("INWARD_TEST_KEY", raising=False)
    with pytest.raises(ParamsError, match="'INWARD_TEST_KEY' is not set"):
        validate_params(p)
    monkeypatch.setenv("INWARD_TEST_KEY", "sk-test")
    validate_params(p)


def _with_file(tmp_path, text: str, **more) -> dict:
    path = tmp_path / "mine.jsonl"
    path.write_text(text)
    p = params(**{"tasks.files": {"mine": str(path)}, "tasks.test": ["prose", "mine"], **more})
    return p


@pytest.mark.parametrize("text, expected", [
    ("", r"mine\.jsonl: no items"),
    ("\n\n", r"mine\.jsonl: no items"),
    ('{"id": 1, "prompt": "hi"}\n{"id": 2, "prompt": "yo"\n', r"mine\.jsonl:2: invalid JSON"),
    ('{"id": 1, "text": "hi"}\n', (r"mine\.jsonl:1: missing key\(s\) prompt; required keys: id, "
                                  r"prompt; allowed keys: id, prompt, target")),
    ('{"id": 1, "prompt": "a"}\n{"id": 1, "prompt": "b"}\n',
     r"mine\.jsonl:2: duplicate id '1' \(first on line 1\)"),
    ('{"id": 1, "prompt": "' + "x" * 20001 + '"}\n',
     (r"mine\.jsonl:1: 'prompt' has 20001 characters; at most 20000 are allowed "
     r"\(tasks\.max_prompt_chars\)")),
])
def test_a_bad_task_file_is_refused_with_its_line(tmp_path, text, expected):
    with pytest.raises(ParamsError, match=r"tasks\.files\.mine: .*" + expected):
        validate_params(_with_file(tmp_path, text))


def test_the_prompt_limit_is_a_param(tmp_path):
    p = _with_file(tmp_path, '{"id": 1, "prompt": "' + "x" * 50 + '"}\n',
                   **{"tasks.max_prompt_chars": 40})
    with pytest.raises(ParamsError, match="'prompt' has 50 characters; at most 40"):
        validate_params(p)
    p["tasks"]["max_prompt_chars"] = 50
    validate_params(p)


def test_a_missing_task_file_is_refused(tmp_path):
    p = params(**{"tasks.files": {"mine": str(tmp_path / "gone.jsonl")}})
    with pytest.raises(ParamsError,
        match=r"tasks\.files\.mine: file '.*gone\.jsonl' does not exist"):
        validate_params(p)


def test_more_items_than_a_task_can_generate_is_refused_with_the_maximum():
    import time

    start = time.time()
    with pytest.raises(ParamsError, match=r"tasks\.n_test_items: 100000 items asked of task "
                       r"'prose', which can generate at most 1602 distinct prompts; allowed: "
                       r"1 to 1602"):
        validate_params(params(**{"tasks.n_test_items": 100000}))
    with pytest.raises(ParamsError, match=r"task 'wealth_seeking', .* at most 336"):
        validate_params(params(**{"tasks.n_train_items": 337}))
    assert time.time() - start < 5
    validate_params(params(**{"tasks.n_train_items": 336}))


def test_check_params_prints_every_problem_and_exits_2(tmp_path, capsys):
    from inward.cli import main

    path = tmp_path / "params.yaml"
    text = (ROOT / "params.yaml").read_text()
    path.write_text(text.replace("  n_test_items: 20 ", "  n_test_items: 100000 ").replace(
        "    source: embedded:smollm2-135m", f"    source: {tmp_path / 'none'}"))
    assert main(["check-params", str(path)]) == 2
    err = capsys.readouterr().err
    assert "tasks.n_test_items: 100000 items asked of task 'prose'" in err
    assert "models.smollm2.source: local model directory" in err
    path.write_text(text)
    assert main(["check-params", str(path)]) == 0


def test_a_models_own_replay_weight_overrides_the_shared_one():
    p = params(**{"sft.replay_weight": 3, "models.gemma3.replay_weight": 1})
    typed = validate_params(p)
    assert typed.replay_weight("gemma3") == 1.0 and typed.replay_weight("smollm2") == 3.0
    del p["sft"]["replay_weight"]
    p["models"]["smollm2"].pop("replay_weight", None)
    # neither set: replay counts like a prediction
    assert validate_params(p).replay_weight("smollm2") == 1.0
    with pytest.raises(ParamsError, match=r"models\.gemma3\.replay_weight: -2 is less than"):
        validate_params(params(**{"models.gemma3.replay_weight": -2}))


def test_a_models_own_shift_values_override_only_its_shift_finetune():
    p = params(**{"models.gemma3.shift_finetune": {"learning_rate": 0.004}})
    p["models"]["smollm2"].pop("shift_finetune", None)  # a model without its own values
    typed = validate_params(p)
    gemma = typed.finetune_hparams("gemma3__shift")
    assert plain(gemma.written) == {**p["finetune"]["shift"], "learning_rate": 0.004}
    assert gemma == LoraHparams.from_params({**p["finetune"]["shift"], "learning_rate": 0.004})
    assert plain(typed.finetune_hparams("smollm2__shift").written) == p["finetune"]["shift"]
    # self and cross finetunes share one set of values whatever the model
    for agent in ("gemma3__self", "smollm2__cross__gemma3", "gemma3__cross__smollm2"):
        assert plain(typed.finetune_hparams(agent).written) == p["finetune"]["self"]


def test_every_default_is_a_documented_field_of_its_type():
    """Config types hold every default, each field with a one-line docstring; a section
    built from params.yaml keeps its values and fills the rest from the fields."""
    import ast
    import inspect

    from inward.config import types

    tree = ast.parse(inspect.getsource(types))
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name != "_Section"):
        body = cls.body
        for i, node in enumerate(body):
            if isinstance(node, ast.AnnAssign) and node.target.id not in ("tasks", "generation",
                                                                          "sft", "finetune",
                                                                          "calibration",
                                                                          "metrics", "plots"):
                nxt = body[i + 1] if i + 1 < len(body) else None
                assert (isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                        and isinstance(nxt.value.value, str)), f"{cls.name}.{node.target.id}"
    typed = load_params(ROOT / "params.yaml")
    assert typed.models["smollm2"].max_retries == 6 and typed.models["smollm2"].batch_size == 64
    assert typed.finetune.self.lora_layers == 0.5 and typed.finetune.shift.lora_layers == 1.0


def test_the_params_header_names_the_schema_that_validates_it():
    import re

    from inward.config.validation import _schema

    named = re.findall(r"src/inward/config/[\w.]+", (ROOT / "params.yaml").read_text())
    assert named and all((ROOT / path).is_file() for path in named), named
    assert _schema()["title"] == "inward params.yaml"
