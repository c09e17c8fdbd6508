"""Benchmark of the local backend (run by hand; not part of the tests).

    python benchmarks/bench_local.py [--model embedded:smollm2-135m] [--prompts 256]
        [--max-new-tokens 16] [--batch-size 64] [--naive-sample 32] [--threads N]

Prints (a) batched greedy generation tokens/s against a naive one-prompt-at-a-time
``model.generate`` loop on the same prompts (with ``--naive-sample N`` the naive loop runs on
the first N prompts only and its time for all prompts is extrapolated; the output says so),
(b) answer_distribution prompts/s, (c) LoRA training tokens/s, each also as a fraction of the
machine's measured fp32 matmul FLOP/s (ideal cost: 2 x params FLOPs per generated or
prompt token, 6 x params per trained token), and the peak memory (max RSS).

The nominal costs overcount: the embedding matrix (28 M of SmolLM2's 135 M parameters) costs
no FLOPs per prompt token (the LM head runs on the last position only), and LoRA needs no weight
gradients for the frozen weights (~4 x params per trained token), and the prompts' shared
prefix (system prompt, turn header) is computed once per batch, so (b) and (c) can show more
than 100% of the matmul figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

WORDS = [
    "apple", "banana", "cherry", "dragon", "eagle", "forest", "garden", "harbor", "island",
    "jungle", "kettle", "lemon", "mountain", "needle", "orange", "pencil", "quartz", "river",
    "silver", "tiger", "umbrella", "violin", "window", "yellow", "zebra", "anchor", "bridge",
    "candle", "desert", "engine", "falcon", "glacier",
]
TEMPLATES = [
    "What is the first letter of the word '{w}'? Answer with the letter only.",
    "Give one word that rhymes with '{w}'.",
    "Is '{w}' an animal? Answer yes or no.",
    "Write a sentence that uses the word '{w}'.",
    "How many letters does the word '{w}' have? Answer with a number.",
    "Name something that is the same colour as a {w}.",
    "Translate the word '{w}' into French.",
    "Which is bigger, A) a {w} or B) a house? Answer with the letter only.",
]


def prompts(n: int) -> list[list[dict]]:
    out = []
    for i in range(n):
        q = TEMPLATES[i % len(TEMPLATES)].format(w=WORDS[(i // len(TEMPLATES)) % len(WORDS)])
        out.append([{"role": "user", "content": q}])
    return out


def matmul_flops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="embedded:smollm2-135m")
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--naive-sample", type=int, default=0,
                    help="time the naive loop on the first N prompts only and extrapolate")
    ap.add_argument("--train-steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--json", help="also write the figures to this JSON file")
    a = ap.parse_args(argv)

    from inward.backends import finetune, load_backend
    from inward.config.types import LoraHparams, ModelConfig

    torch.set_num_threads(a.threads)
    peak = matmul_flops()
    print(f"torch {torch.__version__}, {a.threads} threads; fp32 matmul: {peak / 1e9:.1f} GFLOP/s")
    t = time.perf_counter()
    cfg = ModelConfig.from_params({"backend": "local", "source": a.model,
                                   "batch_size": a.batch_size})
    b = load_backend(cfg, threads=a.threads)
    print(f"load {a.model} (cached): {time.perf_counter() - t:.2f} s; "
          f"{b.params / 1e6:.1f} M params")
    P = b.params
    chats = prompts(a.prompts)
    res: dict = {"model": a.model, "threads": a.threads, "matmul_gflops": peak / 1e9}

    # (a) batched vs naive
    b.generate(chats[:4], 4)  # warm-up
    t = time.perf_counter()
    b.generate(chats, a.max_new_tokens)
    tb = time.perf_counter() - t
    ntok = b.last_generated_tokens
    tps_b = ntok / tb
    n_naive = a.naive_sample or a.prompts
    stop = b.tables.stop_ids
    naive_tok = 0
    t = time.perf_counter()
    for c in chats[:n_naive]:
        ids = torch.tensor([b.encode([c])[0]])
        with torch.no_grad():
            g = b.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                 max_new_tokens=a.max_new_tokens, do_sample=False,
                                 eos_token_id=stop, pad_token_id=b.tokenizer.pad_token_id)
        naive_tok += g.shape[1] - ids.shape[1]
    tn = time.perf_counter() - t
    tps_n = naive_tok / tn
    tn_all = tn * a.prompts / n_naive
    extra = (f" (naive loop timed on {n_naive} of {a.prompts} prompts, time extrapolated)"
             if n_naive < a.prompts else "")
    print(f"(a) generation, {a.prompts} prompts, max_new_tokens={a.max_new_tokens}, "
          f"batch_size={a.batch_size}:")
    print(f"    batched: {tb:.1f} s, {ntok} tokens, {tps_b:.1f} tok/s, "
          f"{a.prompts / tb:.2f} prompts/s, {2 * P * tps_b / peak:.1%} of matmul peak")
    print(f"    naive  : {tn_all:.1f} s{extra}, {tps_n:.1f} tok/s, "
          f"{a.prompts / tn_all:.2f} prompts/s, {2 * P * tps_n / peak:.1%} of matmul peak")
    print(f"    speed-up: {tn_all / tb:.1f}x wall time per prompt, {tps_b / tps_n:.1f}x tokens/s "
          "(the naive loop stops only at end-of-turn, not at the first newline)")
    res.update(batched_s=tb, batched_tokens=ntok, batched_tok_s=tps_b, naive_s=tn_all,
               naive_tok_s=tps_n, naive_sample=n_naive, speedup_time=tn_all / tb,
               speedup_tok_s=tps_b / tps_n)

    # (b) answer distributions
    b.answer_distribution(chats[:4], k=5)
    ptok = sum(len(x) for x in b.encode(chats))
    t = time.perf_counter()
    b.answer_distribution(chats, k=5)
    td = time.perf_counter() - t
    print(f"(b) answer_distribution: {a.prompts / td:.1f} prompts/s ({ptok / td:.0f} prompt "
          f"tok/s, {2 * P * ptok / td / peak:.1%} of matmul peak)")
    res.update(dist_prompts_s=a.prompts / td, dist_tok_s=ptok / td)

    # (c) LoRA training
    with tempfile.TemporaryDirectory() as d:
        data = Path(d) / "train.jsonl"
        with open(data, "w") as f:
            for _i, w in enumerate(WORDS * 3):
                q = TEMPLATES[0].format(w=w)
                f.write(json.dumps({"messages": [{"role": "user", "content": q},
                                                 {"role": "assistant", "content": w[0].upper()}]})
                        + "\n")
        hp = LoraHparams.from_params({"batch_size": 8, "max_steps": a.train_steps, "epochs": 10})
        s = finetune(cfg, data, Path(d) / "ad", hp, seed=0, threads=a.threads)
    tt = s["tokens"] / s["seconds"]
    print(f"(c) LoRA training: {s['steps']} steps x 8 examples, {tt:.0f} tok/s "
          f"({6 * P * tt / peak:.1%} of matmul peak at 6 x params per token)")
    res.update(train_tok_s=tt)

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss_mb = rss / 1024 if sys.platform != "darwin" else rss / 2**20
    print(f"peak memory (max RSS): {rss_mb:.0f} MiB")
    res["max_rss_mib"] = rss_mb
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main()
