"""The local backend: a transformers causal LM answering with batched, left-padded decoding
and a KV cache, and finetuned with LoRA (``inward.backends.lora``).

* ``generate``: length-sorted batches (the model config's ``batch_size``), greedy when
  ``temperature <= 0`` else sampling with a seeded ``torch.Generator``. A sequence stops at an
  end-of-turn/EOS or any other control token of the model (``embedded.control_token_ids``: none
  is ever part of an answer's text) or at the first newline once its answer has begun (leading
  blank lines are skipped); finished rows are dropped from the batch and its KV cache. The
  answer is the first non-blank line of the decoded text. Answers come back in input order.
* ``answer_distribution``: one batched forward pass per batch; the next-token probabilities are
  summed over tokens with the same stripped text (" A" and "A" merge; special and
  whitespace-only tokens are left out), the top ``k`` groups are kept and renormalised.
* Base models are cached per process (``inward.backends.bases``); attaching a LoRA adapter
  copies the cached base and merges the adapter into the copy, so switching adapters never
  reloads from disk.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import torch

from inward.backends.bases import drop_base, get_base
from inward.backends.lora import finetune_lora
from inward.backends.prefixes import common_prefix, left_pad, prefix_groups
from inward.config.types import LoraHparams, ModelConfig
from inward.models import embedded
from inward.models.device import resolve_dtype, select_device, set_threads


def attach_adapter(model: torch.nn.Module, adapter: str | Path,
                   in_place: bool = False) -> torch.nn.Module:
    """A copy of ``model`` (``model`` itself when ``in_place``: a big model spread over GPUs)
    with the peft LoRA adapter in ``adapter`` merged into its weights."""
    from peft import PeftModel

    m = model if in_place else copy.deepcopy(model)
    m = PeftModel.from_pretrained(m, str(adapter), is_trainable=False)
    m = m.merge_and_unload()
    m.eval()
    return m


def sample_rows(logits: torch.Tensor, temperature: float,
                gens: list[torch.Generator]) -> torch.Tensor:
    """One token per row of ``logits`` [B, V], drawn from softmax(logits / temperature) by
    inverse-CDF sampling with one uniform number from each row's own generator.

    Same distribution as ``torch.multinomial`` per row, but about 3x faster on a large
    vocabulary (Gemma's 262k tokens): two vectorised passes over the batch instead of one
    multinomial call per row. The unnormalised CDF is a float32 cumulative sum; its rounding
    moves a token's probability by about 1e-5 of the total at most."""
    weights = ((logits - logits.amax(-1, keepdim=True)) / temperature).exp_()
    cdf = weights.cumsum(-1)
    u = torch.cat([torch.rand(1, generator=g, device=logits.device) for g in gens])
    # side="right": the first token whose CDF exceeds the target, so a zero-weight token is
    # never drawn, and u < 1 keeps the index inside the vocabulary
    idx = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(1).contiguous(), right=True)
    return idx.squeeze(1).clamp_(max=logits.shape[-1] - 1)


def first_line(text: str) -> str:
    """The first non-blank line of ``text`` ("" if there is none)."""
    for line in text.split("\n"):
        if line.strip():
            return line.rstrip("\r")
    return ""


def _source(cfg: ModelConfig) -> str:
    """The model a local config runs (the schema requires it; a config built in code may not)."""
    if not cfg.source:
        raise ValueError("a local model config needs a 'source' (embedded:<name>, a model "
                         "directory or a hub id)")
    return cfg.source


class LocalBackend:
    """Backend protocol over a local transformers causal LM (see module docstring)."""

    def __init__(self, cfg: ModelConfig, adapter: str | Path | None = None,
                 threads: int | None = None):
        self.cfg = cfg
        self.source = _source(cfg)
        self.threads = set_threads(threads)
        self.device = select_device(cfg.device)
        self.dtype = resolve_dtype(cfg.dtype, self.device)
        self.batch_size = cfg.batch_size
        base = get_base(self.source, self.device, self.dtype, device_map=cfg.device_map)
        self.tokenizer = base.tokenizer
        self.tokenizer_lock = base.tokenizer_lock
        self.tables = base.tables
        self._stops = set(base.tables.stop_ids)
        self.fmt = cfg.chat_format or base.fmt
        self.adapter = str(adapter) if adapter else None
        if adapter and cfg.device_map:  # merged in place: no second copy of a big model
            drop_base(self.source, self.device, self.dtype, cfg.device_map)
        self.model = (attach_adapter(base.model, adapter, in_place=bool(cfg.device_map))
                      if adapter else base.model)
        self.name = cfg.name or self.source
        self.params = sum(p.numel() for p in self.model.parameters())
        self.last_generated_tokens = 0  # tokens decoded by the last generate() call

    @staticmethod
    def finetune(cfg: ModelConfig, train_jsonl, out_dir, hparams: LoraHparams,
                 init_adapter=None, seed: int = 0, threads: int | None = None,
                 val_jsonl=None) -> dict:
        """LoRA finetune (:func:`inward.backends.lora.finetune_lora`) -> out_dir/
        adapter_model.safetensors, adapter_config.json, train_log.csv, and loss_curve.csv
        (training and validation loss) when ``val_jsonl`` is given."""
        return finetune_lora(_source(cfg), train_jsonl, out_dir, hparams,
                             init_adapter=init_adapter, seed=seed, threads=threads,
                             device=cfg.device, dtype=cfg.dtype, val_jsonl=val_jsonl,
                             device_map=cfg.device_map)

    # --- helpers -------------------------------------------------------------------------
    def format(self, chat: list[dict]) -> str:
        return embedded.format_chat(self.tokenizer, chat, self.fmt, add_generation_prompt=True)

    def encode(self, chats: list[list[dict]]) -> list[list[int]]:
        texts = [self.format(c) for c in chats]
        with self.tokenizer_lock:
            return self.tokenizer(texts, add_special_tokens=False)["input_ids"]

    def _batches(self, ids: list[list[int]], batch_size: int | None = None):
        """Batches of prompt indices: prompts that share a long prefix (the hypothetical
        questions about one item, the copies of a sampled prompt) stay together, so their
        prefix is computed once (see ``_prefill``); groups are ordered longest first, so a
        batch holds prompts of similar length."""
        bs = max(1, int(batch_size or self.batch_size))
        lex = sorted(range(len(ids)), key=lambda i: (ids[i], i))
        groups = prefix_groups([ids[i] for i in lex])
        groups = [[lex[j] for j in g] for g in groups]
        groups.sort(key=lambda g: (-max(len(ids[i]) for i in g), min(g)))
        order = [i for g in groups for i in g]
        for s in range(0, len(order), bs):
            yield order[s:s + bs]

    def _pad(self, seqs: list[list[int]]):
        return left_pad(seqs, self.tokenizer.pad_token_id or 0, self.device)

    def _forward(self, ids, attn, pos, cache):
        out = self.model(input_ids=ids, attention_mask=attn, position_ids=pos,
                         past_key_values=cache, use_cache=True, logits_to_keep=1)
        return out.logits[:, -1, :].float(), out.past_key_values

    def _prefill(self, seqs: list[list[int]], cache_cls):
        """Forward the prompts; returns (last logits, cache, attention mask, last positions).

        Shared prefixes are computed once. When neighbouring rows share a long prefix (see
        ``prefix_groups``), each group's prefix is run once and its KV cache copied to the
        group's rows before their own suffixes run: rows are laid out as
        [padding][group prefix][padding][suffix]. Otherwise the prefix common to the whole batch
        (the chat template's header) is run once: [prefix][padding][rest]. Padding is masked
        and positions are counted over real tokens, which is equivalent to left-padding each
        whole prompt."""
        groups = prefix_groups(seqs)
        if len(groups) < len(seqs) and min(len(r) for r in seqs) > 1:
            return self._prefill_groups(seqs, groups, cache_cls)
        n_common = 0
        if len(seqs) > 1:
            first, shortest = seqs[0], min(len(s) for s in seqs)
            while (n_common < shortest - 1
                   and all(s[n_common] == first[n_common] for s in seqs)):
                n_common += 1
        if n_common < 8:
            ids, attn = self._pad(seqs)
            pos = (attn.cumsum(-1) - 1).clamp(min=0)
            logits, cache = self._forward(ids, attn, pos, cache_cls())
            return logits, cache, attn, pos[:, -1:]
        B = len(seqs)
        prefix = torch.tensor([seqs[0][:n_common]], dtype=torch.long, device=self.device)
        _, cache = self._forward(prefix, torch.ones_like(prefix), None, cache_cls())
        cache.batch_repeat_interleave(B)
        ids, sattn = self._pad([s[n_common:] for s in seqs])
        attn = torch.cat([sattn.new_ones((B, n_common)), sattn], dim=1)
        pos = (attn.cumsum(-1) - 1).clamp(min=0)[:, n_common:]
        logits, cache = self._forward(ids, attn, pos, cache)
        return logits, cache, attn, pos[:, -1:]

    def _prefill_groups(self, seqs: list[list[int]], groups: list[list[int]], cache_cls):
        """``_prefill`` for rows in groups of neighbours that share a prefix (each group is a
        run of consecutive rows, so the rows keep their order)."""
        lens = []
        for g in groups:
            n = min(len(seqs[r]) for r in g) - 1  # every row keeps at least one token
            first = seqs[g[0]]
            for r in g[1:]:
                n = min(n, common_prefix(first, seqs[r]))
            lens.append(max(n, 0))
        ids_p, attn_p = self._pad([seqs[g[0]][:n] for g, n in zip(groups, lens, strict=False)])
        pos_p = (attn_p.cumsum(-1) - 1).clamp(min=0)
        _, cache = self._forward(ids_p, attn_p, pos_p, cache_cls())
        of_row = torch.tensor([k for k, g in enumerate(groups) for _ in g], device=self.device)
        cache.batch_select_indices(of_row)
        ids_s, attn_s = self._pad([seqs[r][n:]
                                   for g, n in zip(groups, lens, strict=False) for r in g])
        attn = torch.cat([attn_p[of_row], attn_s], dim=1)
        pos = (attn.cumsum(-1) - 1).clamp(min=0)[:, attn_p.shape[1]:]
        logits, cache = self._forward(ids_s, attn, pos, cache)
        return logits, cache, attn, pos[:, -1:]

    @torch.inference_mode()
    def _decode_batch(self, seqs: list[list[int]], max_new_tokens: int, temperature: float,
                      gens: list[torch.Generator] | None, repeat: int = 1) -> list[list[int]]:
        """Decode every prompt ``repeat`` times (rows i*repeat .. i*repeat+repeat-1 belong to
        prompt i); each prompt is prefilled once and its KV cache repeated."""
        from transformers.cache_utils import DynamicCache

        t = self.tables
        logits, cache, attn, last = self._prefill(seqs, DynamicCache)
        if repeat > 1:
            cache.batch_repeat_interleave(repeat)
            logits, attn, last = (x.repeat_interleave(repeat, dim=0) for x in (logits, attn, last))
        B = len(seqs) * repeat
        active = torch.arange(B, device=self.device)
        started = torch.zeros(B, dtype=torch.bool, device=self.device)
        outs: list[list[int]] = [[] for _ in range(B)]
        for step in range(max_new_tokens):
            nxt = logits.argmax(-1)
            if gens is not None and temperature and temperature > 0:
                # rows without a generator stay greedy (``greedy_and_samples``)
                act = active.tolist()
                rows = [j for j, r in enumerate(act) if gens[r] is not None]
                if rows:
                    nxt[rows] = sample_rows(logits[rows], temperature,
                                            [gens[act[j]] for j in rows])
            for r, tk in zip(active.tolist(), nxt.tolist(), strict=False):
                outs[r].append(tk)
            st = started[active]
            stop = t.stop[nxt] | (t.has_nl[nxt] & (st | t.content_before_nl[nxt]))
            started[active] = st | t.content[nxt]
            if step == max_new_tokens - 1 or bool(stop.all()):
                break
            if bool(stop.any()):
                keep = (~stop).nonzero().squeeze(1)
                active, nxt, attn, last = active[keep], nxt[keep], attn[keep], last[keep]
                cache.batch_select_indices(keep)
            attn = torch.cat([attn, attn.new_ones((attn.shape[0], 1))], dim=1)
            last = last + 1
            logits, cache = self._forward(nxt[:, None], attn, last, cache)
        return outs

    def _until_stop(self, tokens: list[int]) -> list[int]:
        """The answer's tokens before the first stop token: a control token that ends the answer
        is never decoded into its text."""
        stops = self._stops
        for i, tk in enumerate(tokens):
            if tk in stops:
                return tokens[:i]
        return tokens

    def _row_generators(self, ids: list[list[int]], seed: int) -> list[torch.Generator]:
        """One generator per prompt, seeded from (seed, prompt tokens, how many identical
        prompts came before it): a sample depends on nothing else in the call, so batching,
        chunking and serving one request at a time all give the same samples."""
        seen: dict[tuple, int] = {}
        gens = []
        for row in ids:
            key = tuple(row)
            k = seen.get(key, 0)
            seen[key] = k + 1
            digest = hashlib.sha256(f"{seed}:{k}:{key}".encode()).digest()
            g = torch.Generator(device=self.device)
            g.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
            gens.append(g)
        return gens

    # --- Backend protocol ----------------------------------------------------------------
    def generate(self, chats: list[list[dict]], max_new_tokens: int = 32,
                 temperature: float = 0.0, seed: int = 0, progress: bool = False,
                 batch_size: int | None = None) -> list[str]:
        if not chats:
            return []
        ids = self.encode(chats)
        gens = self._row_generators(ids, seed) if temperature and temperature > 0 else None
        answers: list[str | None] = [None] * len(chats)
        self.last_generated_tokens = 0
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(chats), desc=f"generate {self.name}", unit="prompt")
        for idx in self._batches(ids, batch_size):
            outs = self._decode_batch([ids[i] for i in idx], max_new_tokens, temperature,
                                      None if gens is None else [gens[i] for i in idx])
            self.last_generated_tokens += sum(len(o) for o in outs)
            outs = [self._until_stop(o) for o in outs]
            with self.tokenizer_lock:
                texts = self.tokenizer.batch_decode(outs, skip_special_tokens=True)
            for i, text in zip(idx, texts, strict=False):
                answers[i] = first_line(text)
            if bar is not None:
                bar.update(len(idx))
        if bar is not None:
            bar.close()
        return answers  # type: ignore[return-value]

    def sample(self, chats: list[list[dict]], n: int, max_new_tokens: int = 32,
               temperature: float = 1.0, seed: int = 0,
               progress: bool = False) -> list[list[str]]:
        """``n`` sampled answers per chat. Each distinct prompt is prefilled once and its KV
        cache repeated ``n`` times; the per-row generators are those ``generate`` gives ``n``
        copies of the prompt, so the samples do not depend on batching."""
        if not chats:
            return []
        if n < 1 or not temperature or temperature <= 0:
            flat = [c for c in chats for _ in range(max(n, 0))]
            out = self.generate(flat, max_new_tokens, temperature=temperature, seed=seed)
            return [out[i * n:(i + 1) * n] for i in range(len(chats))]
        ids = self.encode(chats)
        gens = self._row_generators([row for row in ids for _ in range(n)], seed)
        return self._repeated(ids, gens, n, max_new_tokens, temperature)

    def greedy_and_samples(self, chats: list[list[dict]], n: int, max_new_tokens: int = 32,
                           temperature: float = 1.0,
                           seed: int = 0) -> list[tuple[str, list[str]]]:
        """Per chat, the greedy answer and ``n`` sampled answers from one prefill: each prompt's
        KV cache is repeated ``n + 1`` times, row 0 decoded greedily and the others sampled with
        the generators ``sample`` uses, so the samples equal ``sample``'s up to float rounding
        of the batch layout."""
        if not chats:
            return []
        ids = self.encode(chats)
        sampled = self._row_generators([row for row in ids for _ in range(n)], seed)
        gens: list[torch.Generator | None] = []
        for i in range(len(ids)):
            gens += [None, *sampled[i * n:(i + 1) * n]]
        rows = self._repeated(ids, gens, n + 1, max_new_tokens, temperature)
        return [(r[0], r[1:]) for r in rows]

    def _repeated(self, ids: list[list[int]], gens: list, k: int, max_new_tokens: int,
                  temperature: float) -> list[list[str]]:
        """``k`` answers per prompt, row j of prompt i decoded with ``gens[i * k + j]`` (None:
        greedy); each prompt is prefilled once and its KV cache repeated ``k`` times."""
        answers: list[list[str]] = [[] for _ in ids]
        self.last_generated_tokens = 0
        for idx in self._batches(ids, max(1, self.batch_size // k)):
            outs = self._decode_batch([ids[i] for i in idx], max_new_tokens, temperature,
                                      [gens[i * k + j] for i in idx for j in range(k)], k)
            self.last_generated_tokens += sum(len(o) for o in outs)
            outs = [self._until_stop(o) for o in outs]
            with self.tokenizer_lock:
                texts = self.tokenizer.batch_decode(outs, skip_special_tokens=True)
            for r, i in enumerate(idx):
                answers[i] = [first_line(x) for x in texts[r * k:(r + 1) * k]]
        return answers

    @torch.inference_mode()
    def next_token_logprobs(self, chats: list[list[dict]]) -> torch.Tensor:
        """[len(chats), vocab] float32 log-probabilities of the first answer token."""
        from transformers.cache_utils import DynamicCache

        ids = self.encode(chats)
        res = [None] * len(chats)
        for idx in self._batches(ids):
            logits, *_ = self._prefill([ids[i] for i in idx], DynamicCache)
            lp = torch.log_softmax(logits, dim=-1)
            for j, i in enumerate(idx):
                res[i] = lp[j]
        return torch.stack(res)

    @torch.inference_mode()
    def answer_distribution(self, chats: list[list[dict]], k: int = 5,
                            progress: bool = False) -> list[dict[str, float]]:
        if not chats:
            return []
        t = self.tables
        ids = self.encode(chats)
        res: list[dict[str, float] | None] = [None] * len(chats)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(chats), desc=f"distribution {self.name}", unit="prompt")
        from transformers.cache_utils import DynamicCache

        for idx in self._batches(ids):
            logits, *_ = self._prefill([ids[i] for i in idx], DynamicCache)
            probs = torch.softmax(logits, dim=-1)
            grouped = torch.zeros((len(idx), t.n_groups + 1), device=probs.device)
            grouped.index_add_(1, t.group, probs)
            grouped = grouped[:, : t.n_groups]
            top = torch.topk(grouped, min(k, t.n_groups), dim=-1)
            vals = top.values / top.values.sum(-1, keepdim=True).clamp_min(1e-30)
            for j, i in enumerate(idx):
                res[i] = {t.group_text[g]: float(v)
                          for g, v in zip(top.indices[j].tolist(), vals[j].tolist(), strict=False)}
            if bar is not None:
                bar.update(len(idx))
        if bar is not None:
            bar.close()
        return res  # type: ignore[return-value]
