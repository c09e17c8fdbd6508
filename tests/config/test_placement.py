"""GPU requests come from a model's params entry, and impossible ones are refused by name."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from inward.config.placement import gpus_of
from inward.config.types import ModelConfig
from inward.config.validation import ParamsError, validate_params

PARAMS = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())


def test_gpus_come_from_the_model_entry_not_the_environment(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    assert gpus_of(ModelConfig.from_params({"backend": "local",
        "source": "embedded:smollm2-135m"})) == 0
    assert gpus_of(ModelConfig.from_params({"backend": "local", "source": "x", "gpus": 2})) == 2
    assert gpus_of(ModelConfig.from_params({"backend": "openai", "model": "gpt-4o"})) == 0


@pytest.mark.parametrize("edit, expected", [
    ({"gpus": -1}, r"models\.smollm2\.gpus: -1 is less than the minimum of 0"),
    ({"gpus": "one"}, r"models\.smollm2\.gpus: 'one' is not of type 'integer'"),
    ({"gpus": 1, "device": "cpu"},
     (r"models\.smollm2\.gpus: 1 asked but models\.smollm2\.device is 'cpu'; allowed with "
     r"gpus > 0: auto, cuda, cuda:N")),
])
def test_a_bad_gpu_request_names_the_key_and_the_allowed_values(edit, expected):
    params = copy.deepcopy(PARAMS)
    params["models"]["smollm2"].update(edit)
    with pytest.raises(ParamsError, match=expected):
        validate_params(params, check_inputs=False)


def test_a_hosted_model_cannot_ask_for_gpus(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    params = copy.deepcopy(PARAMS)
    params["models"]["gpt"] = {"backend": "openai", "model": "gpt-4o", "gpus": 1}
    with pytest.raises(ParamsError, match=r"models\.gpt\.gpus: 1 asked of a hosted model"):
        validate_params(params, check_inputs=False)
    params["models"]["gpt"]["gpus"] = 0
    params["models"]["smollm2"]["gpus"] = 1
    validate_params(params, check_inputs=False)
