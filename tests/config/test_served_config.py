"""``backend: served``, ``device_map`` and ``gradient_checkpointing`` in params.yaml: accepted
where they make sense, refused with the key and the allowed values where they do not."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from inward.config.placement import gpus_of
from inward.config.types import ModelConfig
from inward.config.validation import ParamsError, validate_params

PARAMS = yaml.safe_load((Path(__file__).resolve().parents[2] / "params.yaml").read_text())
SERVED = {"backend": "served", "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
          "source": "embedded:smollm2-135m", "base_url": "http://localhost:8000/v1"}


def with_model(**entry) -> dict:
    params = copy.deepcopy(PARAMS)
    params["models"]["big"] = entry
    return params


def test_a_served_model_is_valid_without_an_api_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    typed = validate_params(with_model(**SERVED))
    big = typed.models["big"]
    assert big.backend == "served" and big.trains_locally and not big.is_local


@pytest.mark.parametrize("drop, expected", [
    ("source", r"models\.big: 'source' is a required property"),
    ("model", r"models\.big: 'model' is a required property"),
])
def test_a_served_model_needs_its_served_name_and_its_local_weights(drop, expected):
    entry = {k: v for k, v in SERVED.items() if k != drop}
    with pytest.raises(ParamsError, match=expected):
        validate_params(with_model(**entry), check_inputs=False)


def test_a_served_model_needs_its_server_address(monkeypatch):
    monkeypatch.delenv("INWARD_VLLM_URL", raising=False)
    entry = {k: v for k, v in SERVED.items() if k != "base_url"}
    with pytest.raises(ParamsError, match=r"models\.big\.base_url: a served model needs its "
                       r"server's address .*'INWARD_VLLM_URL'"):
        validate_params(with_model(**entry, base_url_env="INWARD_VLLM_URL"))
    monkeypatch.setenv("INWARD_VLLM_URL", "http://gpu-box:8000/v1")
    validate_params(with_model(**entry, base_url_env="INWARD_VLLM_URL"))


def test_a_served_models_weights_are_checked_as_a_local_models(tmp_path):
    with pytest.raises(ParamsError, match=r"models\.big\.source: unknown embedded model "
                       r"'embedded:nothing'"):
        validate_params(with_model(**{**SERVED, "source": "embedded:nothing"}))
    with pytest.raises(ParamsError, match=r"models\.big\.source: local model directory "):
        validate_params(with_model(**{**SERVED, "source": str(tmp_path / "none")}))


def test_a_served_model_may_ask_gpus_for_its_finetunes():
    validate_params(with_model(**SERVED, gpus=1), check_inputs=False)
    assert gpus_of(ModelConfig.from_params({**SERVED, "gpus": 2})) == 2


@pytest.mark.parametrize("entry, expected", [
    ({"backend": "local", "source": "embedded:smollm2-135m", "device_map": "everywhere"},
     r"models\.big\.device_map: 'everywhere' is not one of \['auto', 'balanced', "
     r"'balanced_low_0', 'sequential'\]"),
    ({"backend": "local", "source": "embedded:smollm2-135m", "device_map": "auto",
      "device": "cpu"},
     r"models\.big\.device_map: 'auto' spreads layers over GPUs but models\.big\.device is "
     r"'cpu'; allowed with device_map: device auto, cuda or cuda:N"),
    ({"backend": "openai", "model": "gpt-4o", "device_map": "auto"},
     r"models\.big\.device_map: 'auto' set on a hosted model \('openai' backend\)"),
])
def test_a_bad_device_map_names_the_key_and_the_allowed_values(entry, expected):
    with pytest.raises(ParamsError, match=expected):
        validate_params(with_model(**entry), check_inputs=False)


def test_device_map_and_gradient_checkpointing_are_typed():
    params = with_model(backend="local", source="embedded:smollm2-135m", device_map="auto",
                        gpus=2)
    params["finetune"]["self"]["gradient_checkpointing"] = True
    typed = validate_params(params, check_inputs=False)
    assert typed.models["big"].device_map == "auto"
    assert typed.finetune.self.gradient_checkpointing is True
    assert typed.finetune.shift.gradient_checkpointing is False
    params["finetune"]["self"]["gradient_checkpointing"] = "yes"
    with pytest.raises(ParamsError, match=r"finetune\.self\.gradient_checkpointing: 'yes' is "
                       r"not of type 'boolean'"):
        validate_params(params, check_inputs=False)
