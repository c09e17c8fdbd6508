"""LoRA finetuning of SmolLM2-135M on a small real chat JSONL."""

from __future__ import annotations

import csv
import json
import os

import pytest

from inward.backends import finetune, load_backend
from inward.backends.bases import BASES
from inward.backends.lora import chat_loss, encode_example, read_chat_jsonl
from inward.config.types import LoraHparams, ModelConfig

WORDS = """
apple banana cherry dragon eagle forest garden harbor island jungle kettle lemon mountain
needle orange pencil quartz river silver tiger umbrella violin window yellow zebra anchor
bridge candle desert engine falcon glacier hammer igloo jacket kingdom lantern marble nectar
ocean palace quiver rocket saddle temple unicorn valley walnut
""".split()
THREADS = int(os.environ.get("INWARD_TEST_THREADS", "1"))  # as in conftest.py
CFG = ModelConfig.from_params({"backend": "local", "source": "embedded:smollm2-135m"})
HP = LoraHparams.from_params({"learning_rate": 2e-3, "epochs": 2, "batch_size": 8,
                              "grad_accum": 1, "lora_rank": 8, "lora_alpha": 16,
                              "lora_dropout": 0.0})


def example(w):
    q = f"What is the first letter of the word '{w}'? Answer with the letter only."
    return {"messages": [{"role": "user", "content": q},
                         {"role": "assistant", "content": w[0].upper()}]}


def write(path, words):
    path.write_text("".join(json.dumps(example(w)) + "\n" for w in words))
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("lora")
    return write(d / "train.jsonl", WORDS[:32]), write(d / "heldout.jsonl", WORDS[32:48]), d


@pytest.fixture(scope="module")
def trained(data, smollm_backend):
    train, _, d = data
    summary = finetune(CFG, train, d / "adapter", HP, seed=0, threads=THREADS)
    return d / "adapter", summary


def test_assistant_only_labels(smollm_backend):
    b = smollm_backend
    ids, labels = encode_example(b.tokenizer, example("apple")["messages"], b.fmt)
    learnt = [t for t, lab in zip(ids, labels, strict=False) if lab != -100]
    text = b.tokenizer.decode(learnt)
    assert text.startswith("A<|im_end|>") and "apple" not in text
    assert len(ids) == len(labels) and labels[0] == -100


def test_a_weight_0_turn_is_context_not_a_target(smollm_backend):
    """Only assistant turns without ``"weight": 0`` are learned: a worked exchange shown before
    the real question must never become a target."""
    b = smollm_backend
    chat = [{"role": "user", "content": "List three metals."},
            {"role": "assistant", "content": "iron zinc tin", "weight": 0},
            {"role": "user", "content": "List three birds."},
            {"role": "assistant", "content": "owl wren jay"}]
    ids, labels = encode_example(b.tokenizer, chat, b.fmt)
    learnt = b.tokenizer.decode([t for t, lab in zip(ids, labels, strict=False) if lab != -100])
    assert learnt.startswith("owl wren jay") and "iron" not in learnt
    plain, _ = encode_example(b.tokenizer, [{k: v for k, v in m.items() if k != "weight"}
                                            for m in chat], b.fmt)
    assert plain == ids  # the weight changes the labels, never the text


def test_finetune_lowers_heldout_loss_and_changes_answers(data, trained, smollm_backend):
    _, heldout, _ = data
    adapter, summary = trained
    held = read_chat_jsonl(heldout)
    n_base = len(BASES)
    before = chat_loss(smollm_backend.model, smollm_backend.tokenizer, held, smollm_backend.fmt)
    tuned = load_backend(CFG, adapter=adapter, threads=THREADS)
    assert len(BASES) == n_base  # the cached base was reused, not reloaded
    after = chat_loss(tuned.model, tuned.tokenizer, held, tuned.fmt)
    assert after < 0.5 * before, (before, after)
    # the cached base model is untouched by training and by attaching the adapter
    again = chat_loss(smollm_backend.model, smollm_backend.tokenizer, held, smollm_backend.fmt)
    assert abs(again - before) < 1e-6

    prompts = [c[:1] for c in held]
    targets = [c[1]["content"] for c in held]
    base_ans = smollm_backend.generate(prompts, max_new_tokens=6)
    tuned_ans = tuned.generate(prompts, max_new_tokens=6)
    assert base_ans != tuned_ans
    acc = sum(a.strip() == t for a, t in zip(tuned_ans, targets, strict=False)) / len(targets)
    assert acc >= 0.75, tuned_ans

    assert summary["steps"] == 8 and summary["final_loss"] < summary["tokens"]
    assert {p.name for p in adapter.iterdir()} == {
        "adapter_model.safetensors", "adapter_config.json", "train_log.csv"}
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == "embedded:smollm2-135m"
    assert "/" not in json.dumps({k: v for k, v in cfg.items() if k != "megatron_core"})
    with open(adapter / "train_log.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["step", "epoch", "loss", "lr"] and len(rows) == 8
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])


def test_finetune_is_deterministic(tmp_path, smollm_backend):
    small = write(tmp_path / "small.jsonl", WORDS[:8])
    hp = HP.updated({"batch_size": 4, "max_steps": 2})
    for name in ("a", "b"):
        finetune(CFG, small, tmp_path / name, hp, seed=1, threads=THREADS)
    for f in ("adapter_model.safetensors", "adapter_config.json", "train_log.csv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    finetune(CFG, small, tmp_path / "c", hp, seed=2, threads=THREADS)
    assert (tmp_path / "c" / "adapter_model.safetensors").read_bytes() != \
        (tmp_path / "a" / "adapter_model.safetensors").read_bytes()


def test_validation_loss_curve(data, tmp_path, smollm_backend):
    """With a validation file, loss_curve.csv holds the validation loss before the first step
    (the untrained model's loss on those examples), at evenly spread steps and after the last
    step, with the mean training loss since the previous evaluation; training is unchanged."""
    train, heldout, _ = data
    hp = HP.updated({"max_steps": 4, "evaluations": 3})
    s = finetune(CFG, train, tmp_path / "v", hp, seed=0, threads=THREADS, val_jsonl=heldout)
    finetune(CFG, train, tmp_path / "p", hp, seed=0, threads=THREADS)
    assert (tmp_path / "v" / "adapter_model.safetensors").read_bytes() == \
        (tmp_path / "p" / "adapter_model.safetensors").read_bytes()
    assert not (tmp_path / "p" / "loss_curve.csv").exists()
    with open(tmp_path / "v" / "loss_curve.csv") as f:
        curve = list(csv.DictReader(f))
    assert [int(r["step"]) for r in curve] == [0, 2, 4]
    held = read_chat_jsonl(heldout)
    base = chat_loss(smollm_backend.model, smollm_backend.tokenizer, held, smollm_backend.fmt,
                     batch_size=HP.batch_size)
    assert abs(float(curve[0]["val_loss"]) - base) < 1e-4 and curve[0]["train_loss"] == ""
    with open(tmp_path / "v" / "train_log.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert abs(float(curve[1]["train_loss"]) - sum(losses[:2]) / 2) < 1e-5
    assert float(curve[-1]["val_loss"]) < float(curve[0]["val_loss"])
    assert s["val_loss"] == float(curve[-1]["val_loss"]) and s["val_examples"] == len(held)


def test_length_bucketed_batches_cover_every_example_once():
    import torch

    from inward.backends.lora import _length_bucketed

    examples = [([0] * n, [0] * n) for n in [5, 9, 1, 7, 3, 8, 2, 6, 4, 10, 11, 12, 13] * 9]
    batches = _length_bucketed(examples, 4, torch.Generator().manual_seed(0))
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(len(examples)))
    assert len(batches) == -(-len(examples) // 4)
    spread = sum(max(len(examples[i][0]) for i in b) - min(len(examples[i][0]) for i in b)
                 for b in batches) / len(batches)
    assert spread < 4  # a random batch of these lengths spreads ~8 on average
    again = _length_bucketed(examples, 4, torch.Generator().manual_seed(0))
    assert again == batches


def test_weighted_examples_are_dealt_over_every_batch():
    """Replayed answers of weight 2 beside prediction examples of weight 1: every batch gets its
    share of both (a batch of weight-2 examples alone would cancel the weight in the per-step
    mean), every example once, as many batches as before, each kind in token-order runs."""
    import torch

    from inward.backends.lora import _length_bucketed

    plain = [([1, n], [-100, n]) for n in range(30)]
    heavy = [([2, n], [-100, n], [0.0, 2.0]) for n in range(10)]
    examples = plain + heavy
    batches = _length_bucketed(examples, 4, torch.Generator().manual_seed(0))
    assert sorted(i for b in batches for i in b) == list(range(40)) and len(batches) == 10
    for b in batches:
        kinds = [len(examples[i]) for i in b]
        assert kinds.count(2) == 3 and kinds.count(3) == 1
    assert batches == _length_bucketed(examples, 4, torch.Generator().manual_seed(0))


def test_continue_from_init_adapter(data, trained, tmp_path, smollm_backend):
    train, _, _ = data
    adapter, _ = trained
    hp = HP.updated({"max_steps": 1, "learning_rate": 1e-4})
    s = finetune(CFG, train, tmp_path / "cont", hp, init_adapter=adapter, seed=0, threads=THREADS)
    fresh = finetune(CFG, train, tmp_path / "fresh", hp, seed=0, threads=THREADS)
    # continuing starts from the trained adapter: its first step's loss is already low
    assert s["final_loss"] < 0.5 < fresh["final_loss"]
    assert s["init_adapter"] == str(adapter)
    assert (tmp_path / "cont" / "adapter_model.safetensors").read_bytes() != \
        (adapter / "adapter_model.safetensors").read_bytes()


def test_shared_prefix_loss_equals_the_plain_loss_and_gradient(smollm_backend):
    """Examples quoting the same context beside a short one: computing their common prefix
    once, in passes of alike lengths, gives the loss and LoRA gradients of the plain padded
    batch, up to float32 rounding (measured against a float64 computation)."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    from inward.backends.lora import _collate, batch_loss_sum, token_loss_sum

    b = smollm_backend
    context = ("Earlier you were sent this message:\n<<<\nHere is a list of animals:\nfox owl "
               "bee crab mole toad wren lynx\nContinue the list.\n>>>\n")
    chats = [[{"role": "user", "content": context + q}, {"role": "assistant", "content": a}]
             for q, a in [("First word of your reply?", "fox"), ("Second character?", "o"),
                          ("Did it start with a vowel?", "false")]]
    chats.append(example("walnut")["messages"])
    batch = [encode_example(b.tokenizer, c, b.fmt) for c in chats]
    torch.manual_seed(0)
    model = get_peft_model(copy.deepcopy(b.model), LoraConfig(
        r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    for p in model.parameters():
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.02)  # non-zero B: gradients reach every LoRA matrix

    def run(m, fn):
        m.zero_grad()
        loss, n = fn(m)
        loss.backward()
        return float(loss), n, [p.grad.double() for p in m.parameters() if p.requires_grad]

    def plain(m):
        return token_loss_sum(m, *_collate(batch, 0, "cpu"))

    truth = run(copy.deepcopy(model).double(), plain)
    results = [run(model, plain), run(model, lambda m: batch_loss_sum(m, batch, 0, "cpu"))]

    def error(res):  # relative distance to the float64 loss and gradients
        return max([abs(res[0] - truth[0]) / abs(truth[0])]
                   + [float((g - t).norm() / t.norm())
                      for g, t in zip(res[2], truth[2], strict=False)])

    assert results[0][1] == results[1][1] == truth[1]
    # float32 rounding alone: up to a few 1e-4 on this batch's smallest gradients (a misplaced
    # position or prefix token errs by 1e-2 or more)
    assert error(results[0]) < 1e-3 and error(results[1]) < 1e-3


def test_length_passes_split_a_batch_only_where_padding_costs_more_than_a_pass():
    """Short examples beside long ones run as separate forward passes; alike lengths stay in
    one pass; every group is in exactly one pass."""
    from inward.backends.lora import _length_passes

    seqs = [[1] * 10] * 4 + [[2] * 300] * 2
    parts = _length_passes([[i] for i in range(6)], [1] * 6, seqs)
    assert [sorted(p) for p in parts] == [[0, 1, 2, 3], [4, 5]]
    alike = [[1] * 100, [1] * 104, [1] * 98]
    assert _length_passes([[0], [1], [2]], [1, 1, 1], alike) == [[2, 0, 1]]
    # a group sharing a 200-token prefix beside two short examples
    seqs = [[3] * 200 + [4] * 20, [3] * 200 + [5] * 20, [1] * 12, [1] * 11]
    parts = _length_passes([[0, 1], [2], [3]], [200, 1, 1], seqs)
    assert sorted(k for p in parts for k in p) == [0, 1, 2] and len(parts) == 2


def test_a_weighted_answer_counts_as_that_many_copies(smollm_backend):
    """A turn of weight w adds w times its token losses (plain and shared-prefix paths alike),
    and the training normaliser counts it w times: weight 2 is two copies of the example."""
    import copy

    import torch

    from inward.backends.lora import batch_loss_sum, encode_weighted, label_weight

    b = smollm_backend
    model = copy.deepcopy(b.model)
    context = "Earlier you were sent this message:\n<<<\nName two red fruits.\n>>>\n"
    chats = [[{"role": "user", "content": context + q}, {"role": "assistant", "content": a}]
             for q, a in [("First word of your reply?", "apple"), ("Did it start with a vowel?",
                                                                    "true")]]
    with torch.no_grad():
        for shared in (False, True):  # one example (plain path) or two sharing a prefix
            todo = chats if shared else chats[:1]
            plain = [encode_weighted(b.tokenizer, c, b.fmt) for c in todo]
            heavy = [encode_weighted(b.tokenizer, [c[0], {**c[1], "weight": 2}], b.fmt)
                     for c in todo]
            assert [e[0] for e in heavy] == [e[0] for e in plain]
            l1, n1 = batch_loss_sum(model, plain, 0, "cpu")
            l2, n2 = batch_loss_sum(model, heavy, 0, "cpu")
            assert n1 == n2 and abs(float(l2) - 2 * float(l1)) < 1e-4 * float(l1)
            assert sum(map(label_weight, heavy)) == 2 * sum(map(label_weight, plain))
            assert sum(map(label_weight, plain)) == sum(
                sum(v != -100 for v in e[1][1:]) for e in plain)
    zero = encode_weighted(b.tokenizer, [chats[0][0], {**chats[0][1], "weight": 0}], b.fmt)
    assert set(zero[1]) == {-100} and label_weight(zero) == 0


def test_lora_layers_adapts_only_the_top_layers(tmp_path, smollm_backend):
    """lora_layers: 0.5 puts adapters on the top half of SmolLM2's 30 layers only."""
    from safetensors import safe_open

    small = write(tmp_path / "small.jsonl", WORDS[:4])
    finetune(CFG, small, tmp_path / "half",
             HP.updated({"batch_size": 4, "max_steps": 1, "lora_layers": 0.5}), seed=0,
             threads=THREADS)
    with safe_open(str(tmp_path / "half" / "adapter_model.safetensors"), "pt") as f:
        layers = {int(k.split(".layers.")[1].split(".")[0]) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    assert layers == set(range(15, 30))
