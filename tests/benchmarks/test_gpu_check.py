"""CPU smoke test of benchmarks/gpu_check.py, the prepared script for a lent GPU machine: the
tiny random model runs through every measurement in a subprocess (a few seconds), so the script
cannot rot between the rare runs on a GPU."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
PROMPTS, NEW_TOKENS, STEPS = 6, 5, 2

POSITIVE = ["load_s", "params", "generate_s", "generate_new_tokens", "generate_tok_s",
            "generate_prompts_s", "generate_peak_share", "distribution_s",
            "distribution_prompts_s", "distribution_prompt_tokens", "distribution_peak_share",
            "lora_steps", "lora_tokens", "lora_s", "lora_tok_s", "lora_final_loss",
            "lora_peak_share"]
SHARES = ["agreement_answers", "agreement_first_token"]


@pytest.fixture(scope="module")
def g():
    """The script as a module (importing it changes nothing: its setup runs in ``main``)."""
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The script on the tiny model, on a CPU, one torch thread: (JSON figures, stdout,
    stderr)."""
    out = tmp_path_factory.mktemp("gpu_check") / "figures.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--size", "tiny", "--skip-smollm",
         "--prompts", str(PROMPTS), "--new-tokens", str(NEW_TOKENS), "--steps", str(STEPS),
         "--threads", "1", "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text()), proc.stdout, proc.stderr


def test_every_figure_is_there_and_sane(run):
    fig, _, _ = run
    assert fig["complete"] is True
    assert fig["device"] == "cpu" and fig["dtype"] == "bfloat16" and fig["size"] == "tiny"
    assert fig["peak_source"] == "measured matmul (float32)"
    assert math.isfinite(fig["matmul_tflops"]) and fig["matmul_tflops"] > 0
    assert fig["peak_tflops"] == fig["matmul_tflops"]
    m = fig["models"]["random-tiny"]
    for key in POSITIVE:
        assert math.isfinite(m[key]) and m[key] > 0, (key, m[key])
    for key in SHARES:
        assert 0.0 <= m[key] <= 1.0, (key, m[key])
    assert m["peak_memory_gib"] == 0.0  # no GPU
    assert m["lora_steps"] == STEPS
    # every prompt decodes at least one token and at most --new-tokens
    assert PROMPTS <= m["generate_new_tokens"] <= PROMPTS * NEW_TOKENS
    assert fig["models"]["smollm2-135m"] == {"skipped": "--skip-smollm"}


def test_rates_and_peak_shares_follow_from_the_counts(run):
    """The shares are 2 x params (generation, prompt tokens) and 6 x params (LoRA) FLOPs per
    token against the peak, and the peak is in TFLOP/s."""
    fig, _, _ = run
    m, peak = fig["models"]["random-tiny"], fig["peak_tflops"] * 1e12
    P = m["params"]
    assert m["generate_tok_s"] == pytest.approx(m["generate_new_tokens"] / m["generate_s"])
    assert m["generate_prompts_s"] == pytest.approx(PROMPTS / m["generate_s"])
    assert m["generate_peak_share"] == pytest.approx(2 * P * m["generate_tok_s"] / peak)
    assert m["distribution_prompts_s"] == pytest.approx(PROMPTS / m["distribution_s"])
    assert m["distribution_peak_share"] == pytest.approx(
        2 * P * m["distribution_prompt_tokens"] / m["distribution_s"] / peak)
    assert m["lora_tok_s"] == pytest.approx(m["lora_tokens"] / m["lora_s"])
    assert m["lora_peak_share"] == pytest.approx(6 * P * m["lora_tok_s"] / peak)


def test_model_is_the_tiny_llama(run, g):
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(g.llama_config("tiny", g.build_tokenizer(512)))
    assert run[0]["models"]["random-tiny"]["params"] == sum(p.numel() for p in model.parameters())


def test_table_on_stderr_json_only_in_out(run):
    _, stdout, stderr = run
    assert stdout.strip() == ""  # with --out the figures go to the file only
    for row in ("generate new tok/s", "answer_distribution prompts/s", "LoRA train tok/s",
                "peak GPU memory (GiB)", "bf16 = fp32 answers", "random-tiny"):
        assert row in stderr
    assert "random-tiny: generate" in stderr  # the progress lines
    assert "step/s" not in stderr and "s/step" not in stderr  # finetune's tqdm bar is off


def test_default_size_is_about_one_billion_parameters(g):
    from transformers import LlamaForCausalLM

    with torch.device("meta"):
        model = LlamaForCausalLM(g.llama_config("1b", g.build_tokenizer(32000)))
    assert 0.95e9 < sum(p.numel() for p in model.parameters()) < 1.1e9


def test_every_token_decodes_to_its_own_word(g):
    """The dtype comparison compares decoded answers: that is a comparison of token ids only if
    every id the model can emit decodes to a distinct word."""
    tok = g.build_tokenizer(512)
    assert len(tok) == 512
    special = set(tok.all_special_ids)
    words = [tok.decode([i]) for i in range(512) if i not in special]
    assert all(w and " " not in w for w in words)
    assert len(set(words)) == len(words)
    text = tok.apply_chat_template([{"role": "user", "content": "apple"}], tokenize=False,
                                   add_generation_prompt=True)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids and ids[-1] == tok.convert_tokens_to_ids("<|assistant|>")


@pytest.mark.parametrize(("name", "tflops"), [
    ("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0), ("NVIDIA H200", 989.0),
    ("NVIDIA A100-SXM4-80GB", 312.0), ("NVIDIA L4", 121.0), ("NVIDIA L40S", 362.0),
])
def test_peak_table_by_device_name(g, monkeypatch, name, tflops):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    none = Namespace(peak_tflops=None)
    assert g.peak_tflops(none, torch.device("cuda"), torch.bfloat16, 1.0)[0] == tflops
    # float32 is not in the bf16 table, an unknown card neither: the measured matmul is used
    assert g.peak_tflops(none, torch.device("cuda"), torch.float32, 1.0)[0] == 1.0
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Some GPU")
    assert g.peak_tflops(none, torch.device("cuda"), torch.bfloat16, 1.0)[0] == 1.0
    assert g.peak_tflops(Namespace(peak_tflops=500.0), torch.device("cuda"), torch.bfloat16,
                         1.0) == (500.0, "--peak-tflops")
