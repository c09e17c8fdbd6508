"""Base models of the local backend, loaded once per process, with their token tables.

``get_base`` loads a model (``inward.models.embedded``) once per (source, device, dtype) and
keeps it in ``BASES`` beside its tokenizer, chat format and ``TokenTables``: per-vocabulary
lookups that decoding (``inward.backends.local``) uses to stop answers and group next-token
probabilities. LoRA training (``inward.backends.lora``) starts from the same cached model, so a
process that trains and then answers loads the weights once.
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
from dataclasses import dataclass, field

import torch

from inward.models import embedded
from inward.models.device import resolve_dtype, select_device


@dataclass
class TokenTables:
    """Per-vocabulary lookup tables (bool tensors of length vocab)."""

    stop: torch.Tensor              # end-of-turn / EOS
    has_nl: torch.Tensor            # text contains a newline
    content_before_nl: torch.Tensor  # non-blank text before its first newline
    content: torch.Tensor           # any non-blank text
    group: torch.Tensor             # stripped-text group id (n_groups = left out)
    group_text: list[str]
    n_groups: int
    stop_ids: list[int]


@dataclass
class Base:
    """A loaded model with its tokenizer, token tables and chat format."""

    model: torch.nn.Module
    tokenizer: object
    tables: TokenTables
    fmt: str
    # a fast tokenizer raises "Already borrowed" when two threads call it at once (a server
    # answering requests in parallel); the model itself is safe to share
    tokenizer_lock: threading.Lock = field(default_factory=threading.Lock)


BASES: dict[tuple, Base] = {}
TABLES_VERSION = 2  # 2: every control token (special, added, <unusedN>, turn markers) stops


def _cached_tables(source: str, tok, model, device) -> TokenTables:
    """Token tables of an embedded model, kept beside its weight cache: building them decodes
    the whole vocabulary (seconds for Gemma's 262k tokens) on every load otherwise. Tensors go
    to safetensors and the strings to JSON: a pickled list of 262k strings took 2 s to load."""
    if embedded.get_spec(source) is None:
        return _build_tables(tok, model, device)
    from safetensors.torch import load_file, save_file

    # the version names the table rules: a change of rules must not reuse old tables
    tensors_path = embedded.cache_dir(source) / f"token_tables.v{TABLES_VERSION}.safetensors"
    text_path = tensors_path.with_suffix(".json")
    if tensors_path.exists() and text_path.exists():
        tensors = load_file(tensors_path, device=str(device))
        return TokenTables(**tensors, **json.loads(text_path.read_text(encoding="utf-8")))
    tables = dataclasses.asdict(_build_tables(tok, model, "cpu"))
    tensors = {k: v for k, v in tables.items() if torch.is_tensor(v)}
    rest = {k: v for k, v in tables.items() if k not in tensors}
    # atomic writes, JSON last: a concurrent or interrupted writer leaves no half-written pair
    tmp = tensors_path.with_suffix(f".tmp{os.getpid()}")
    save_file(tensors, tmp)
    os.replace(tmp, tensors_path)
    tmp = text_path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(rest), encoding="utf-8")  # ascii escapes: any str round-trips
    os.replace(tmp, text_path)
    return TokenTables(**{k: v.to(device) for k, v in tensors.items()}, **rest)


def _build_tables(tok, model, device) -> TokenTables:
    vocab = int(model.get_output_embeddings().weight.shape[0])
    n_tok = min(len(tok), vocab)
    texts = tok.batch_decode([[i] for i in range(n_tok)], skip_special_tokens=False,
                             clean_up_tokenization_spaces=False)
    special = set(embedded.control_token_ids(tok))
    stop_ids = set(tok.convert_tokens_to_ids(embedded.end_of_turn_tokens(tok))) | special
    eos = getattr(model.generation_config, "eos_token_id", None)
    if eos is not None:
        stop_ids |= set(eos if isinstance(eos, list) else [eos])
    stop_ids = sorted(i for i in stop_ids if i is not None and 0 <= i < vocab)

    stop = torch.zeros(vocab, dtype=torch.bool)
    stop[stop_ids] = True
    nl, bn, ct = [False] * vocab, [False] * vocab, [False] * vocab
    groups: dict[str, int] = {}
    gid = []
    for i, t in enumerate(texts):
        if i in special:
            gid.append(-1)
            continue
        if "\n" in t:
            nl[i] = True
            bn[i] = t.split("\n", 1)[0].strip() != ""
        s = t.strip()
        ct[i] = s != ""
        gid.append(groups.setdefault(s, len(groups)) if s else -1)
    has_nl, cbn, content = (torch.tensor(x, dtype=torch.bool) for x in (nl, bn, ct))
    n_groups = len(groups)
    group = torch.full((vocab,), n_groups, dtype=torch.long)
    g = torch.tensor(gid, dtype=torch.long)
    group[:n_tok] = torch.where(g < 0, torch.full_like(g, n_groups), g)
    return TokenTables(stop.to(device), has_nl.to(device), cbn.to(device), content.to(device),
                       group.to(device), list(groups), n_groups, stop_ids)


def get_base(source: str, device=None, dtype=None, device_map: str | None = None) -> Base:
    """The process-level cached base model (loaded once per source/device/dtype/device_map)."""
    dev = select_device(device)
    dt = resolve_dtype(dtype, dev)
    key = (source, str(dev), dt, device_map)
    if key not in BASES:
        model, tok = embedded.load_model(source, device=dev, dtype=dt, device_map=device_map)
        BASES[key] = Base(model, tok, _cached_tables(source, tok, model, dev),
                          embedded.chat_format(source, tok))
    return BASES[key]


def drop_base(source: str, device=None, dtype=None, device_map: str | None = None) -> None:
    """Forget a cached base (one that is about to be changed in place, e.g. trained)."""
    dev = select_device(device)
    BASES.pop((source, str(dev), resolve_dtype(dtype, dev), device_map), None)


def clear_cache() -> None:
    BASES.clear()
