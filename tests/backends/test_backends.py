"""inward.backends: the table of backends by name, and what looking a backend up costs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from inward.backends import BACKENDS, finetune, load_backend
from inward.backends.hosted import MissingAPIKeyError
from inward.config.types import LoraHparams, ModelConfig


def test_naming_the_backends_imports_neither_torch_nor_openai():
    """Steps that only move data import inward.backends; the classes load when looked up."""
    code = textwrap.dedent("""
        import sys
        from inward.backends import BACKENDS, load_backend
        from inward.config.types import ModelConfig
        assert "local" in BACKENDS and "openai" in BACKENDS and "x" not in BACKENDS
        print(sorted(BACKENDS), len(BACKENDS))
        try:
            load_backend(ModelConfig(backend="x"))
        except ValueError as e:
            print(e)
        print([m for m in ("torch", "openai") if m in sys.modules])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines() == ["['local', 'openai', 'served'] 3",
                                "unknown backend 'x'; allowed: local, openai, served", "[]"]


def test_the_table_holds_the_classes_and_each_finetunes():
    from inward.backends.hosted import OpenAIBackend
    from inward.backends.local import LocalBackend
    from inward.backends.served import ServedBackend

    assert dict(BACKENDS) == {"local": LocalBackend, "openai": OpenAIBackend,
                              "served": ServedBackend}
    assert all(callable(cls.finetune) for cls in BACKENDS.values())


def test_loading_and_finetuning_go_to_the_backend_of_the_config(tmp_path, monkeypatch):
    hp = LoraHparams.from_params({"epochs": 1})
    monkeypatch.delenv("INWARD_TEST_NO_KEY", raising=False)
    hosted = ModelConfig.from_params({"backend": "openai", "model": "m",
                                      "api_key_env": "INWARD_TEST_NO_KEY"})
    with pytest.raises(MissingAPIKeyError, match="INWARD_TEST_NO_KEY"):
        load_backend(hosted)
    with pytest.raises(MissingAPIKeyError, match="INWARD_TEST_NO_KEY"):
        finetune(hosted, tmp_path / "train.jsonl", tmp_path / "out", hp)
    with pytest.raises(ValueError, match="needs a 'source'"):
        load_backend(ModelConfig(backend="local"))
    with pytest.raises(ValueError, match="needs a 'source'"):
        finetune(ModelConfig(backend="local"), tmp_path / "train.jsonl", tmp_path / "out", hp)
    with pytest.raises(ValueError, match="unknown backend 'x'; allowed: local, openai, served"):
        finetune(ModelConfig(backend="x"), tmp_path / "train.jsonl", tmp_path / "out", hp)
