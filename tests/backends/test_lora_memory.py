"""LoRA over a bfloat16 base, gradient checkpointing and accelerate's device_map: the options
that let big models train on GPUs, checked on CPU with the embedded SmolLM2."""

from __future__ import annotations

import copy
import csv
import json
import os

import pytest
import torch

from inward.backends import finetune, load_backend
from inward.backends.lora import batch_loss_sum, encode_example
from inward.config.types import LoraHparams, ModelConfig

THREADS = int(os.environ.get("INWARD_TEST_THREADS", "1"))  # as in conftest.py
SOURCE = "embedded:smollm2-135m"
WORDS = "apple banana cherry dragon eagle forest garden harbor island jungle kettle lemon".split()
HP = {"learning_rate": 2e-3, "epochs": 1, "batch_size": 4, "lora_rank": 4, "lora_alpha": 8,
      "max_steps": 2, "evaluations": 0}


def example(w: str) -> list[dict]:
    return [{"role": "user", "content": f"First letter of '{w}'? Answer with the letter only."},
            {"role": "assistant", "content": w[0].upper()}]


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("memory") / "train.jsonl"
    path.write_text("".join(json.dumps({"messages": example(w)}) + "\n" for w in WORDS))
    return path


def losses(adapter) -> list[float]:
    with open(adapter / "train_log.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_a_bf16_base_trains_float32_lora_weights(train_file, tmp_path):
    """The base stays bfloat16; the LoRA weights (and so their gradients and Adam state) are
    float32, as peft keeps them on GPUs; the saved adapter is float32 and answers change."""
    from safetensors import safe_open

    cfg = ModelConfig.from_params({"backend": "local", "source": SOURCE, "dtype": "bfloat16"})
    summary = finetune(cfg, train_file, tmp_path / "a", LoraHparams.from_params(HP), seed=0,
                       threads=THREADS)
    assert summary["dtype"] == "bfloat16" and summary["lora_dtype"] == "float32"
    assert summary["steps"] == 2 and all(0 < v < 20 for v in losses(tmp_path / "a"))
    with safe_open(tmp_path / "a" / "adapter_model.safetensors", "pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}
        assert len(list(f.keys())) > 0
    assert dtypes == {torch.float32}
    # answering, the float32 update is merged into the bf16 weights (rounded to bf16): the
    # merged model is bf16 and its logits are not the base's
    tuned = load_backend(cfg, adapter=tmp_path / "a", threads=THREADS)
    assert {p.dtype for p in tuned.model.parameters()} == {torch.bfloat16}
    chats = [example(w)[:1] for w in WORDS[:3]]
    base = load_backend(cfg, threads=THREADS)
    ids = torch.tensor([base.encode(chats[:1])[0]])
    with torch.inference_mode():
        assert not torch.equal(base.model(input_ids=ids).logits, tuned.model(input_ids=ids).logits)


def test_gradient_checkpointing_gives_the_same_loss_and_lora_gradients(smollm_backend):
    """Checkpointed layers recompute their activations in the backward pass (each decoder layer
    runs twice) and give the loss and LoRA gradients of the plain pass, up to float rounding."""
    from peft import LoraConfig, get_peft_model

    b = smollm_backend
    context = "Earlier you were sent this message: list three animals.\n"
    chats = [[{"role": "user", "content": context + q}, {"role": "assistant", "content": a}]
             for q, a in [("First word of your reply?", "fox"), ("Second character?", "o")]]
    batch = [encode_example(b.tokenizer, c, b.fmt) for c in chats + [example("walnut")]]
    torch.manual_seed(0)
    model = get_peft_model(copy.deepcopy(b.model), LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    for p in model.parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.02)  # non-zero B: gradients reach every LoRA matrix
    model.train()

    def run(m):
        calls = []
        # a pre-hook: the recomputation stops once it has what the backward pass needs
        hook = m.get_base_model().model.layers[0].register_forward_pre_hook(
            lambda *_: calls.append(1))
        m.zero_grad()
        loss, n = batch_loss_sum(m, batch, 0, "cpu")
        loss.backward()
        hook.remove()
        grads = [p.grad.clone() for p in m.parameters() if p.requires_grad]
        return float(loss.detach()), n, grads, calls

    plain = run(model)
    model.get_base_model().gradient_checkpointing_enable(
        gradient_checkpointing_kwargs={"use_reentrant": False})
    checkpointed = run(model)
    assert len(checkpointed[3]) == 2 * len(plain[3])  # recomputed in the backward pass
    assert checkpointed[1] == plain[1]
    assert checkpointed[0] == pytest.approx(plain[0], rel=1e-5)
    for g, t in zip(checkpointed[2], plain[2], strict=True):
        assert float((g - t).norm() / t.norm()) < 1e-4


def test_a_finetune_with_gradient_checkpointing_follows_the_same_losses(train_file, tmp_path):
    """``finetune.*.gradient_checkpointing: true`` trains with checkpointed layers; the losses
    of its steps are those of the same finetune without it."""
    cfg = ModelConfig.from_params({"backend": "local", "source": SOURCE})
    off = finetune(cfg, train_file, tmp_path / "off", LoraHparams.from_params(HP), seed=0,
                   threads=THREADS)
    on = finetune(cfg, train_file, tmp_path / "on",
                  LoraHparams.from_params({**HP, "gradient_checkpointing": True}), seed=0,
                  threads=THREADS)
    assert on["gradient_checkpointing"] and not off["gradient_checkpointing"]
    assert losses(tmp_path / "on") == pytest.approx(losses(tmp_path / "off"), rel=1e-4)


def test_a_new_lora_key_left_out_keeps_the_written_hparams():
    """Hosted finetune job keys hash ``written``: a study that does not write the new key
    hashes what it hashed before."""
    hp = LoraHparams.from_params(HP)
    assert "gradient_checkpointing" not in hp.written and not hp.gradient_checkpointing
    on = hp.updated({"gradient_checkpointing": True})
    assert on.gradient_checkpointing and on.written["gradient_checkpointing"] is True


def test_device_map_loads_through_accelerate_and_answers_alike(train_file, tmp_path):
    """``device_map: auto`` is passed to from_pretrained (accelerate records the placement in
    ``hf_device_map``; on a machine without GPUs every layer is on the CPU) and the model
    answers as the one loaded whole, and so does it with an adapter trained on it (trained and
    merged in place, the cached base dropped first) as the same adapter on the whole model."""
    from inward.backends.bases import BASES

    cfg = ModelConfig.from_params({"backend": "local", "source": SOURCE})
    mapped_cfg = cfg.with_values(device_map="auto")
    mapped = load_backend(mapped_cfg, threads=THREADS)
    whole = load_backend(cfg, threads=THREADS)
    assert set(mapped.model.hf_device_map.values()) == {"cpu"}
    assert not hasattr(whole.model, "hf_device_map")
    chats = [example(w)[:1] for w in WORDS[:4]]
    assert mapped.generate(chats, max_new_tokens=4) == whole.generate(chats, max_new_tokens=4)

    hp = LoraHparams.from_params({**HP, "learning_rate": 1e-2})
    on_mapped = finetune(mapped_cfg, train_file, tmp_path / "m", hp, seed=0, threads=THREADS)
    assert not any(k[3] == "auto" for k in BASES)  # trained in place: no longer cached
    on_whole = finetune(cfg, train_file, tmp_path / "w", hp, seed=0, threads=THREADS)
    assert losses(tmp_path / "m") == pytest.approx(losses(tmp_path / "w"), rel=1e-5)
    assert on_mapped["steps"] == on_whole["steps"] == 2
    tuned_mapped = load_backend(mapped_cfg, adapter=tmp_path / "m", threads=THREADS)
    tuned_whole = load_backend(cfg, adapter=tmp_path / "m", threads=THREADS)
    assert not any(k[3] == "auto" for k in BASES)  # merged in place: no longer cached
    assert tuned_mapped.generate(chats, max_new_tokens=4) == \
        tuned_whole.generate(chats, max_new_tokens=4)
