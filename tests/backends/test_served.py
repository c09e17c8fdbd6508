"""The served backend against ``inward serve`` on loopback: local LoRA finetunes, each adapter
loaded into the server by name (vLLM's /v1/load_lora_adapter) before its answers are asked for,
and the answers those of the local backend with the same adapter."""

from __future__ import annotations

import json
import os

import pytest

from inward.backends import BACKENDS, finetune, load_backend
from inward.backends.hosted import OpenAIBackendError
from inward.backends.served import AdapterLoadError, ServedBackend, adapter_name
from inward.config.types import LoraHparams, ModelConfig
from loopback import SOURCE, URL_ENV, chat, server  # noqa: F401 -- fixtures

pytestmark = pytest.mark.slow

THREADS = int(os.environ.get("INWARD_TEST_THREADS", "1"))  # as in conftest.py
LOCAL = ModelConfig.from_params({"backend": "local", "source": SOURCE})
HP = LoraHparams.from_params({"learning_rate": 5e-3, "epochs": 2, "batch_size": 4,
                              "lora_rank": 4, "lora_alpha": 8, "max_steps": 3,
                              "evaluations": 0})
WORDS = "apple banana cherry dragon eagle forest garden harbor".split()
PROMPTS = [f"Name a word that starts with the letter of '{w}'." for w in WORDS[:4]]


def served_cfg(base_url, tmp_path, monkeypatch, **kw) -> ModelConfig:
    monkeypatch.setenv(URL_ENV, base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a server of one's own needs no key
    return ModelConfig.from_params({"backend": "served", "model": "smol", "source": SOURCE,
                                    "base_url_env": URL_ENV, "concurrency": 2,
                                    "cache_dir": str(tmp_path / "cache"), **kw})


@pytest.fixture(scope="module")
def adapter(tmp_path_factory):
    """A LoRA adapter of SmolLM2 trained by the served backend's finetune, in a folder named
    after its agent."""
    d = tmp_path_factory.mktemp("served")
    train = d / "train.jsonl"
    train.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"First letter of '{w}'?"},
        {"role": "assistant", "content": w[0].upper()}]}) + "\n" for w in WORDS))
    cfg = ModelConfig.from_params({"backend": "served", "model": "smol", "source": SOURCE})
    summary = finetune(cfg, train, d / "smol__self", HP, seed=0, threads=THREADS)
    return d / "smol__self", train, summary


def test_served_is_a_backend_whose_finetune_is_the_local_lora(adapter, tmp_path):
    folder, train, summary = adapter
    assert BACKENDS["served"] is ServedBackend
    assert summary["steps"] == 3
    local = finetune(LOCAL, train, tmp_path / "local", HP, seed=0, threads=THREADS)
    assert local["final_loss"] == summary["final_loss"]
    for name in ("adapter_model.safetensors", "adapter_config.json", "train_log.csv"):
        assert (folder / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


def test_an_adapter_is_loaded_by_name_and_answers_as_the_local_one(server, adapter, tmp_path,
                                                                  monkeypatch):
    folder, _, _ = adapter
    cfg = served_cfg(server.base_url, tmp_path, monkeypatch)
    before = len(server.requests())
    tuned = load_backend(cfg, adapter=folder, threads=THREADS)
    name = adapter_name(folder)
    assert tuned.model == name and name.startswith("smol__self-") and len(name) == 11 + 12
    loads = [r for r in server.requests()[before:] if r["path"] == "/v1/load_lora_adapter"]
    assert [(r["model"], r["status"]) for r in loads] == [(name, 200)]

    chats = [chat(p) for p in PROMPTS]
    want = load_backend(LOCAL, adapter=folder, threads=THREADS).generate(chats, max_new_tokens=8)
    base_answers = load_backend(cfg, threads=THREADS).generate(chats, max_new_tokens=8)
    assert tuned.generate(chats, max_new_tokens=8) == want
    assert want != base_answers  # the adapter changed the answers: they came from it
    dist = tuned.answer_distribution(chats[:2], k=3)
    assert all(d and sum(d.values()) == pytest.approx(1.0) for d in dist)

    # a second job of the same agent finds the adapter loaded: no error, the same name
    again = load_backend(cfg, adapter=folder, threads=THREADS)
    assert again.model == name
    statuses = [r["status"] for r in server.requests()[before:]
                if r["path"] == "/v1/load_lora_adapter"]
    assert statuses == [200, 400]

    tuned.unload()
    with pytest.raises(OpenAIBackendError, match="not found"):
        tuned.generate([chat("A question not asked before.")], max_new_tokens=2)
    tuned.unload()  # already gone: fine


def test_a_retrained_adapter_gets_a_new_name(adapter, tmp_path):
    folder, _, _ = adapter
    copy_dir = tmp_path / "smol__self"
    copy_dir.mkdir()
    for f in ("adapter_config.json", "adapter_model.safetensors"):
        (copy_dir / f).write_bytes((folder / f).read_bytes())
    assert adapter_name(copy_dir) == adapter_name(folder)
    data = bytearray((copy_dir / "adapter_model.safetensors").read_bytes())
    data[-1] ^= 1
    (copy_dir / "adapter_model.safetensors").write_bytes(bytes(data))
    assert adapter_name(copy_dir) != adapter_name(folder)
    (copy_dir / "adapter_model.safetensors").unlink()
    with pytest.raises(AdapterLoadError, match="no adapter_model.safetensors"):
        adapter_name(copy_dir)


def test_the_server_refuses_what_it_cannot_load(server, adapter, tmp_path, monkeypatch):
    """Requests as vLLM answers them: a missing folder is 404, a taken name or a missing field
    400, an unknown name to unload 404."""
    import httpx

    folder, _, _ = adapter
    url = server.base_url
    post = lambda path, body: httpx.post(f"{url}{path}", json=body, timeout=30)  # noqa: E731
    r = post("/load_lora_adapter", {"lora_name": "x", "lora_path": str(tmp_path / "none")})
    assert r.status_code == 404 and "No adapter found" in r.json()["error"]["message"]
    assert post("/load_lora_adapter", {"lora_name": "x"}).status_code == 400
    assert post("/load_lora_adapter", {"lora_name": "smol",
                                       "lora_path": str(folder)}).status_code == 400
    assert post("/unload_lora_adapter", {"lora_name": "nobody"}).status_code == 404
