"""LoRA finetuning (peft) of a local model on chat JSONL in OpenAI format.

Each line is ``{"messages": [{"role": ..., "content": ...}, ...]}``. The conversation is
rendered with the model's chat format (:func:`inward.models.embedded.format_chat`) and the loss
is taken only on the assistant turns (everything else is masked with -100), including the
end-of-turn token, so the finetuned model learns to stop.

Seeded: ``torch.manual_seed(seed)`` before the adapter is created (LoRA init) and a seeded
``torch.Generator`` shuffles the examples each epoch, so the same inputs (and thread count)
give byte-identical ``adapter_model.safetensors``, ``adapter_config.json`` and
``train_log.csv``. The optimiser is AdamW (no weight decay) with a linear decay of the learning
rate to 0 and gradient clipping at 1.0; the loss is the mean over the assistant tokens of each
optimiser step. The LM head is applied only to the assistant positions (Gemma's 262k vocabulary
makes full logits the most expensive part of a step).

The hyper-parameters are a :class:`inward.config.types.LoraHparams` (every default is in its
fields): ``lora_layers`` is the share of layers, counted from the top, that get adapters
(gradients then stop at the lowest adapted layer, so 0.5 saves about a quarter of a step's
compute), and the validation loss is measured ``evaluations`` times, from before the first step
to after the last, when a validation file is given. With ``init_adapter`` the existing adapter
is loaded trainable and training continues from it (its rank/alpha/targets win over hparams).
"""

from __future__ import annotations

import copy
import csv
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from inward.backends.bases import drop_base, get_base
from inward.backends.prefixes import common_prefix, left_pad, prefix_groups
from inward.config.types import LoraHparams
from inward.models import embedded
from inward.models.device import resolve_dtype, select_device, set_threads
from inward.records.progress import Progress


def read_chat_jsonl(path) -> list[list[dict]]:
    """The ``messages`` of each line of an OpenAI-format chat JSONL file."""
    chats = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            msgs = rec.get("messages")
            if not isinstance(msgs, list) or not msgs:
                raise ValueError(f"{path}:{n}: expected {{'messages': [...]}}")
            chats.append([{"role": m["role"], "content": m["content"],
                           **({"weight": m["weight"]} if "weight" in m else {})} for m in msgs])
    return chats


def encode_example(tokenizer, messages: list[dict], fmt: str,
                   max_length: int | None = None) -> tuple[list[int], list[int]]:
    """``(input_ids, labels)``; labels are -100 except on the assistant turns' tokens.

    An assistant turn with ``"weight": 0`` (OpenAI's chat finetuning format) is context, not a
    target: a worked exchange shown before the real question is never learned as an answer."""
    ids, labels, _ = encode_weighted(tokenizer, messages, fmt, max_length)
    return ids, labels


def encode_weighted(tokenizer, messages: list[dict], fmt: str,
                    max_length: int | None = None) -> tuple[list[int], list[int], list[float]]:
    """``encode_example`` plus each token's loss weight: the ``weight`` of its assistant turn
    (default 1; 0 on every unlabelled token). A turn of weight 2 counts as much in the loss as
    two copies of it (e.g. replayed object-level answers, ``sft.replay_weight``)."""
    def enc(msgs: list[dict], generation_prompt: bool) -> list[int]:
        msgs = [{"role": m["role"], "content": m["content"]} for m in msgs]
        text = embedded.format_chat(tokenizer, msgs, fmt, add_generation_prompt=generation_prompt)
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    ids = enc(messages, False)
    labels = [-100] * len(ids)
    weights = [0.0] * len(ids)
    for i, m in enumerate(messages):
        w = float(m.get("weight", 1))
        if m["role"] != "assistant" or w == 0:
            continue
        start = len(enc(messages[:i], True))
        end = len(enc(messages[: i + 1], False))
        labels[start:end] = ids[start:end]
        weights[start:end] = [w] * (end - start)
    if max_length:
        ids, labels, weights = ids[:max_length], labels[:max_length], weights[:max_length]
    return ids, labels, weights


def _collate(batch: list[tuple], pad_id: int, device):
    """Padded ``(input_ids, attention, labels, weights)`` of (ids, labels[, weights]) examples
    (weights default to 1 on labelled tokens)."""
    n = max(len(ex[0]) for ex in batch)
    x = torch.full((len(batch), n), pad_id, dtype=torch.long)
    y = torch.full((len(batch), n), -100, dtype=torch.long)
    a = torch.zeros((len(batch), n), dtype=torch.long)
    w = torch.zeros((len(batch), n), dtype=torch.float32)
    for r, ex in enumerate(batch):
        ids, lab = ex[0], ex[1]
        x[r, : len(ids)] = torch.tensor(ids)
        y[r, : len(lab)] = torch.tensor(lab)
        a[r, : len(ids)] = 1
        w[r, : len(lab)] = torch.tensor(_weights_of(ex))
    return x.to(device), a.to(device), y.to(device), w.to(device)


def _weights_of(ex: tuple) -> list[float]:
    return list(ex[2]) if len(ex) > 2 else [float(v != -100) for v in ex[1]]


def label_weight(ex: tuple) -> float:
    """The summed loss weight of an example's predicted tokens (the first token is never
    predicted): the loss normaliser, equal to the number of labelled tokens when unweighted."""
    return float(sum(w for v, w in zip(ex[1][1:], _weights_of(ex)[1:], strict=False) if v != -100))


def _causal_lm(model):
    """The underlying *ForCausalLM of a (peft-wrapped) model."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def _weighted_ce(logits: torch.Tensor, tgt: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    if w is None:
        return F.cross_entropy(logits.float(), tgt, reduction="sum")
    return (F.cross_entropy(logits.float(), tgt, reduction="none") * w).sum()


def token_loss_sum(model, x, attn, labels, weights=None) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross-entropies over labelled positions (each times its weight, when
    ``weights`` is given), and the number of those positions."""
    lm = _causal_lm(model)
    tgt = labels[:, 1:]
    sel = tgt != -100
    n = int(sel.sum())
    w = None if weights is None else weights[:, 1:][sel]
    if hasattr(lm, "model") and hasattr(lm, "lm_head"):
        h = lm.model(input_ids=x, attention_mask=attn, use_cache=False).last_hidden_state
        logits = lm.lm_head(h[:, :-1][sel])
        cap = getattr(lm.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
    else:
        logits = model(input_ids=x, attention_mask=attn, use_cache=False).logits[:, :-1][sel]
    return _weighted_ce(logits, tgt[sel], w), n


PASS_COST = 25  # one forward pass reads every weight: on a CPU about the cost of 25 tokens


def batch_loss_sum(model, batch: list[tuple], pad_id: int,
                   device) -> tuple[torch.Tensor, int]:
    """``token_loss_sum`` of a micro-batch, computed with little padding and with a prefix that
    neighbouring examples share computed only once.

    Shared prefixes: the questions about one item quote the same earlier prompt, and replayed
    answers of one task kind open with the same worked exchange. Each group's prefix (never
    reaching an assistant token) runs once, its keys and values are copied to the group's
    examples, and gradients flow back through the copies.

    Padding: a batch mixing short and long examples (prediction examples beside replayed
    answers) is run as a few forward passes of alike lengths (``_length_passes``), whose loss
    sums are added. Both are equal to the plain padded computation up to float rounding.
    Examples are ``(ids, labels)`` or ``(ids, labels, weights)`` (see ``encode_weighted``)."""
    lm = _causal_lm(model)
    weighted = any(len(ex) > 2 for ex in batch)
    if not (hasattr(lm, "model") and hasattr(lm, "lm_head")):
        return _padded_loss_sum(model, batch, pad_id, device, weighted)
    seqs = [ex[0] for ex in batch]
    # a checkpointed layer drops its KV cache while training: no prefix is shared then
    checkpointing = lm.training and getattr(lm, "is_gradient_checkpointing", False)
    groups = [[i] for i in range(len(seqs))] if checkpointing else prefix_groups(seqs)
    lens = _shared_lengths(batch, groups)
    total, count = None, 0
    for part in _length_passes(groups, lens, seqs):
        if all(len(groups[k]) == 1 for k in part):
            loss, n = _padded_loss_sum(model, [batch[groups[k][0]] for k in part], pad_id,
                                       device, weighted)
        else:
            loss, n = _grouped_loss_sum(lm, batch, [groups[k] for k in part],
                                        [lens[k] for k in part], pad_id, device, weighted)
        total = loss if total is None else total + loss
        count += n
    return total, count


def _padded_loss_sum(model, examples: list[tuple], pad_id: int, device,
                     weighted: bool) -> tuple[torch.Tensor, int]:
    """``token_loss_sum`` of whole examples padded to the longest (nothing shared)."""
    x, a, y, w = _collate(examples, pad_id, device)
    return token_loss_sum(model, x, a, y, w if weighted else None)


def _shared_lengths(batch: list[tuple], groups: list[list[int]]) -> list[int]:
    """How many leading tokens each group computes once: the group's common prefix, stopping
    before the position that predicts its first answer token (1 for a group of one)."""
    lens = []
    for g in groups:
        if len(g) == 1:
            lens.append(1)
            continue
        first_label = min(next(i for i, v in enumerate(batch[r][1]) if v != -100) for r in g)
        n = first_label - 1  # the position predicting the first answer token is not shared
        for r in g[1:]:
            n = min(n, common_prefix(batch[g[0]][0], batch[r][0]))
        lens.append(max(n, 1))
    return lens


def _length_passes(groups: list[list[int]], lens: list[int],
                   seqs: list[list[int]]) -> list[list[int]]:
    """Group indices split into forward passes that minimise padded tokens plus
    ``PASS_COST`` per pass: the groups in order of length, cut where a long group would pad
    many short ones (an exact split by dynamic programming; a batch has few groups)."""
    def size(k):
        return lens[k] + max(len(seqs[r]) - lens[k] for r in groups[k])

    order = sorted(range(len(groups)), key=lambda k: (size(k), k))

    def cost(part):
        rows = sum(len(groups[k]) for k in part)
        if all(len(groups[k]) == 1 for k in part):
            return PASS_COST + rows * max(len(seqs[groups[k][0]]) for k in part)
        suffix = max(len(seqs[r]) - lens[k] for k in part for r in groups[k])
        return 2 * PASS_COST + len(part) * max(lens[k] for k in part) + rows * suffix

    best = [0.0] + [math.inf] * len(order)
    cut = [0] * (len(order) + 1)
    for j in range(1, len(order) + 1):
        for i in range(j):
            c = best[i] + cost(order[i:j])
            if c < best[j]:
                best[j], cut[j] = c, i
    parts, j = [], len(order)
    while j > 0:
        parts.append(order[cut[j]:j])
        j = cut[j]
    return parts[::-1]


def _grouped_loss_sum(lm, batch: list[tuple], groups: list[list[int]], lens: list[int],
                      pad_id: int, device, weighted: bool) -> tuple[torch.Tensor, int]:
    """The loss sum of the examples of ``groups`` (indices into ``batch``), each group's first
    ``lens`` tokens run once: rows are laid out as [padding][group prefix][padding][suffix]."""
    from transformers.cache_utils import DynamicCache

    seqs = [ex[0] for ex in batch]
    ids_p, attn_p = left_pad([seqs[g[0]][:n] for g, n in zip(groups, lens, strict=False)],
                             pad_id, device)
    pos_p = (attn_p.cumsum(-1) - 1).clamp(min=0)
    cache = lm.model(input_ids=ids_p, attention_mask=attn_p, position_ids=pos_p,
                     past_key_values=DynamicCache(), use_cache=True).past_key_values
    of_row = torch.tensor([k for k, g in enumerate(groups) for _ in g], device=device)
    cache.batch_select_indices(of_row)
    rows = [r for g in groups for r in g]
    starts = [n for g, n in zip(groups, lens, strict=False) for _ in g]
    cut = list(zip(rows, starts, strict=False))
    ids_s, attn_s = left_pad([seqs[r][n:] for r, n in cut], pad_id, device)
    lab_s, _ = left_pad([batch[r][1][n:] for r, n in cut], -100, device)
    if weighted:
        w_s, _ = left_pad([_weights_of(batch[r])[n:] for r, n in cut], 0.0, device,
                          torch.float32)
    attn = torch.cat([attn_p[of_row], attn_s], dim=1)
    pos = (attn.cumsum(-1) - 1).clamp(min=0)[:, attn_p.shape[1]:]
    h = lm.model(input_ids=ids_s, attention_mask=attn, position_ids=pos, past_key_values=cache,
                 use_cache=True).last_hidden_state
    tgt = lab_s[:, 1:]
    sel = tgt != -100
    logits = lm.lm_head(h[:, :-1][sel])
    cap = getattr(lm.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    w = w_s[:, 1:][sel] if weighted else None
    return _weighted_ce(logits, tgt[sel], w), int(sel.sum())


def _grouped_order(examples: list) -> list[int]:
    """Example indices in token order, so that examples sharing a prefix are neighbours."""
    return sorted(range(len(examples)), key=lambda i: (examples[i][0], i))


@torch.no_grad()
def chat_loss(model, tokenizer, chats: list[list[dict]], fmt: str, batch_size: int = 8) -> float:
    """Mean per-token loss on the assistant tokens of ``chats`` (e.g. held-out examples); turn
    weights other than 0 are ignored, so validation losses compare across replay weights."""
    was_training = model.training
    model.eval()
    dev = next(model.parameters()).device
    pad = tokenizer.pad_token_id or 0
    ex = [encode_example(tokenizer, c, fmt) for c in chats]
    ex = [ex[i] for i in _grouped_order(ex)]
    total, count = 0.0, 0
    for s in range(0, len(ex), batch_size):
        loss, n = batch_loss_sum(model, ex[s:s + batch_size], pad, dev)
        total += float(loss)
        count += n
    model.train(was_training)
    return total / max(count, 1)


def _portable_name(source: str) -> str:
    p = Path(source)
    return p.name if p.is_absolute() else source


def save_adapter(model, out_dir: Path, source: str) -> None:
    """Write adapter_model.safetensors + adapter_config.json only (no README model card), with
    ``base_model_name_or_path`` set to the registry name (no machine-specific paths)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # save_embedding_layers=False: peft's "auto" looks up the base model's config by name (a
    # hub lookup for a registry name); LoRA here never touches the embeddings
    model.save_pretrained(str(out_dir), safe_serialization=True, save_embedding_layers=False)
    (out_dir / "README.md").unlink(missing_ok=True)
    cfg_path = out_dir / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = _portable_name(source)
    cfg["revision"] = None
    if isinstance(cfg.get("target_modules"), list):  # peft stores a set: order varies by run
        cfg["target_modules"] = sorted(cfg["target_modules"])
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def _length_bucketed(examples: list, bs: int, gen: torch.Generator) -> list[list[int]]:
    """Micro-batches of alike examples, in a seeded random order: the examples are put in
    token order and cut into batches, so examples sharing a prefix (the questions about one
    item, replayed answers after the same worked exchange) land in one batch, where
    ``batch_loss_sum`` computes their prefix once, and a batch holds similar lengths (little
    padding). The batches, not the examples, are shuffled each epoch.

    Examples of different loss weights (``encode_weighted``; e.g. replayed answers of weight 2
    beside prediction examples of weight 1) are dealt evenly over the batches instead, each
    weight's examples in token order and in runs, so neighbours still share prefixes: a batch
    made only of weight-2 examples would have its weight cancelled by the per-step mean."""
    order = _grouped_order(examples)
    streams: dict[float, list[int]] = {}
    for i in order:
        streams.setdefault(_answer_weight(examples[i]), []).append(i)
    n = math.ceil(len(order) / bs)
    if len(streams) == 1:
        batches = [order[i:i + bs] for i in range(0, len(order), bs)]
    else:
        batches = [[] for _ in range(n)]
        for members in streams.values():
            for b in range(n):
                batches[b] += members[b * len(members) // n:(b + 1) * len(members) // n]
    perm = torch.randperm(len(batches), generator=gen).tolist()
    return [batches[i] for i in perm if batches[i]]


def _answer_weight(ex: tuple) -> float:
    """The largest loss weight among an example's labelled tokens (1 when unweighted)."""
    return max((w for v, w in zip(ex[1], _weights_of(ex), strict=False) if v != -100), default=1.0)


def _evaluation_steps(total: int, n: int) -> set[int]:
    """``n`` steps spread evenly from 0 (before training) to ``total`` (after the last step)."""
    if n < 1 or total < 1:
        return set()
    if n == 1:
        return {total}
    return {round(i * total / (n - 1)) for i in range(n)}


def write_loss_log(path: Path, log: list[tuple], curve: list[tuple]) -> None:
    """train_log.csv: one row per optimiser step (step, epoch, loss, lr); loss_curve.csv: one
    row per validation evaluation (step, train_loss = mean training loss of the steps since the
    previous evaluation, val_loss)."""
    with open(path / "train_log.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["step", "epoch", "loss", "lr"])
        w.writerows(log)
    if curve:
        with open(path / "loss_curve.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(["step", "train_loss", "val_loss"])
            w.writerows(curve)


def finetune_lora(source: str, train_jsonl, out_dir, hparams: LoraHparams,
                  init_adapter=None, seed: int = 0, threads: int | None = None,
                  device=None, dtype=None, progress: bool = True, val_jsonl=None,
                  device_map: str | None = None) -> dict:
    """LoRA-finetune ``source`` on ``train_jsonl``; writes the adapter and train_log.csv to
    ``out_dir`` (and loss_curve.csv when ``val_jsonl`` is given) and returns a summary (steps,
    final_loss, val_loss, tokens, label_tokens, seconds, dtype, lora_dtype, ...).

    The base stays in ``dtype`` (float32 on CPU, bfloat16 on CUDA by default) and frozen; the
    LoRA weights, their gradients and the optimiser state are float32 whatever it is (peft's
    ``autocast_adapter_dtype``; its layers cast their input to the LoRA weights' dtype and the
    sum back to the base's). ``device_map`` spreads a big base over the GPUs; such a base is
    trained in place instead of copied, after it is dropped from the process's cache."""
    from peft import LoraConfig, PeftModel, get_peft_model

    set_threads(threads)
    dev = select_device(device)
    dt = resolve_dtype(dtype, dev)
    t0 = time.time()
    base = get_base(source, dev, dt, device_map=device_map)
    tok, fmt = base.tokenizer, base.fmt
    chats = read_chat_jsonl(train_jsonl)
    examples = [encode_weighted(tok, c, fmt, hparams.max_length) for c in chats]
    examples = [e for e in examples if any(v != -100 for v in e[1][1:])]
    if not examples:
        raise ValueError(f"{train_jsonl}: no example has an assistant turn to learn")
    val_chats = read_chat_jsonl(val_jsonl) if val_jsonl else []

    torch.manual_seed(seed)
    if device_map:  # a second copy of a model spread over GPUs would not fit
        drop_base(source, dev, dt, device_map)
        model = base.model
    else:
        model = copy.deepcopy(base.model)  # the cached base stays untouched
    if hparams.gradient_checkpointing:
        # non-reentrant: gradients reach the LoRA weights although the inputs need none
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if init_adapter:
        model = PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True,
                                          autocast_adapter_dtype=True)
    else:
        targets = hparams.target_modules
        if isinstance(targets, str):  # "q_proj,v_proj" is accepted too
            targets = [t.strip() for t in targets.split(",") if t.strip()]
        n_layers = int(model.config.num_hidden_layers)
        k = max(1, min(n_layers, round(float(hparams.lora_layers) * n_layers)))
        peft_cfg = LoraConfig(r=int(hparams.lora_rank), lora_alpha=int(hparams.lora_alpha),
                         lora_dropout=float(hparams.lora_dropout), target_modules=list(targets),
                         layers_to_transform=None if k == n_layers else
                         list(range(n_layers - k, n_layers)),
                         bias="none", task_type="CAUSAL_LM")
        model = get_peft_model(model, peft_cfg, autocast_adapter_dtype=True)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]

    bs, accum = int(hparams.batch_size), max(1, int(hparams.grad_accum))
    epochs = int(hparams.epochs)
    steps_per_epoch = math.ceil(len(examples) / (bs * accum))
    total = epochs * steps_per_epoch
    if hparams.max_steps:
        total = min(total, int(hparams.max_steps))
    lr = float(hparams.learning_rate)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1.0 - s / total))
    gen = torch.Generator().manual_seed(seed)
    pad = tok.pad_token_id or 0

    # steps done, rate and time left, in the log and on the terminal (records.progress)
    meter = Progress(f"{out_dir} (LoRA)", total, "steps", every_line_to_log=False) \
        if progress else None
    log: list[tuple] = []
    curve: list[tuple] = []
    evals = _evaluation_steps(total, int(hparams.evaluations)) if val_chats else set()
    since: list[float] = []  # training losses since the last evaluation

    def evaluate(at: int) -> None:
        if at in evals:
            val = chat_loss(model, tok, val_chats, fmt, batch_size=bs)
            train = sum(since) / len(since) if since else float("nan")
            curve.append((at, "" if not since else f"{train:.6f}", f"{val:.6f}"))
            since.clear()

    step, tokens, label_tokens, loss_val = 0, 0, 0, float("nan")
    evaluate(0)
    for epoch in range(epochs):
        micro = _length_bucketed(examples, bs, gen)
        for j in range(0, len(micro), accum):
            if step >= total:
                break
            group = micro[j:j + accum]
            n_lab = sum(label_weight(examples[i]) for mb in group for i in mb)
            loss_sum = 0.0
            cur_lr = sched.get_last_lr()[0]
            for mb in group:
                loss, _ = batch_loss_sum(model, [examples[i] for i in mb], pad, dev)
                (loss / n_lab).backward()
                loss_sum += float(loss.detach())
                tokens += sum(len(examples[i][0]) for i in mb)
            label_tokens += sum(sum(v != -100 for v in examples[i][1][1:])
                                for mb in group for i in mb)
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            loss_val = loss_sum / n_lab
            at_epoch = round((epoch * steps_per_epoch + j // accum + 1) / steps_per_epoch, 4)
            log.append((step, at_epoch, f"{loss_val:.6f}", f"{cur_lr:.6e}"))
            since.append(loss_val)
            evaluate(step)
            if meter is not None:
                meter.update(step, note=f"loss {loss_val:.4f}")

    out = Path(out_dir)
    model.eval()
    save_adapter(model, out, source)
    write_loss_log(out, log, curve)
    seconds = time.time() - t0
    return {
        "adapter": str(out), "steps": step, "epochs": epochs, "examples": len(examples),
        "final_loss": loss_val, "val_loss": float(curve[-1][2]) if curve else None,
        "val_examples": len(val_chats), "tokens": tokens, "label_tokens": label_tokens,
        "seconds": round(seconds, 2), "tokens_per_second": round(tokens / max(seconds, 1e-9), 1),
        "init_adapter": str(init_adapter) if init_adapter else None,
        "dtype": str(dt).removeprefix("torch."),
        "lora_dtype": str(params[0].dtype).removeprefix("torch."),
        "gradient_checkpointing": bool(hparams.gradient_checkpointing),
    }
