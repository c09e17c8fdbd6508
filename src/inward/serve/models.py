"""The served models: ``--model NAME=SOURCE`` parsing, base models and their finetuned
``ft:`` ids, adapters loaded by name at run time, the loaded backends and the token counts of
``usage``."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from inward.config.types import ModelConfig

if TYPE_CHECKING:
    from inward.backends import Backend


def parse_model_arg(spec: str) -> tuple[str, ModelConfig]:
    """``NAME=SOURCE`` -> (NAME, local model config). SOURCE may also be a JSON model entry."""
    if "=" not in spec:
        raise ValueError(f"--model expects NAME=SOURCE (e.g. smollm2=embedded:smollm2-135m), "
                         f"got {spec!r}")
    name, source = spec.split("=", 1)
    name, source = name.strip(), source.strip()
    if not name or not source:
        raise ValueError(f"--model expects NAME=SOURCE, got {spec!r}")
    if name.startswith("ft:"):
        raise ValueError(f"model name {name!r} may not start with 'ft:'")
    if source.startswith("{"):
        entry = json.loads(source)
        entry.setdefault("backend", "local")
    else:
        entry = {"backend": "local", "source": source}
    return name, ModelConfig.from_params(entry)


def _portable(cfg: ModelConfig) -> str | None:
    """A source as an adapter trained on it names it (a folder by its last part)."""
    return Path(cfg.source).name if cfg.source and Path(cfg.source).is_absolute() else cfg.source


class ServedModels:
    """Base models by name and finetuned ones (``ft:<base>:<job>``: base + LoRA adapter); the
    ``max_loaded`` most recently used backends stay loaded."""

    def __init__(self, bases: Mapping[str, ModelConfig], threads: int | None = None,
                 max_loaded: int = 4):
        self.bases = dict(bases)
        self.threads = threads
        self.max_loaded = max_loaded
        self._ft: dict[str, tuple[str, str]] = {}   # ft model id -> (base name, adapter dir)
        self._runtime: set[str] = set()             # of those, loaded by name at run time
        self._loaded: OrderedDict[str, Backend] = OrderedDict()
        self._tok: dict[str, object] = {}           # tokenizers loaded here for token counts
        self._tok_lock = threading.Lock()
        self._load_lock = threading.Lock()          # one model load at a time: no double loads
        self._lock = threading.RLock()

    def ids(self) -> list[str]:
        with self._lock:
            return list(self.bases) + list(self._ft)

    def add_finetuned(self, model: str, base: str, adapter: str) -> None:
        with self._lock:
            self._ft[model] = (base, adapter)

    def load_adapter(self, name: str, path: str) -> str:
        """Serve the peft adapter folder ``path`` as ``name`` (vLLM's runtime LoRA loading) on
        the base whose source the adapter names; returns that base. ValueError when the name is
        taken or no served base fits; FileNotFoundError when there is no adapter there."""
        config = Path(path) / "adapter_config.json"
        if not config.is_file():
            raise FileNotFoundError(f"No adapter found at {path!r} (no adapter_config.json)")
        wanted = json.loads(config.read_text()).get("base_model_name_or_path")
        fits = [b for b, cfg in self.bases.items() if wanted in (cfg.source, _portable(cfg))]
        if not fits and len(self.bases) == 1:  # vLLM too applies any adapter to its one base
            fits = list(self.bases)
        if not fits:
            raise ValueError(f"adapter {path!r} is for {wanted!r}; served bases: "
                             f"{ {b: c.source for b, c in self.bases.items()} }")
        with self._lock:
            if name in self.bases or name in self._ft:
                raise ValueError(f"The lora adapter '{name}' has already been loaded.")
            self._ft[name] = (fits[0], str(path))
            self._runtime.add(name)
        return fits[0]

    def unload_adapter(self, name: str) -> bool:
        """Stop serving an adapter loaded by :meth:`load_adapter`; False when there is none."""
        with self._lock:
            if name not in self._runtime:
                return False
            self._runtime.discard(name)
            self._ft.pop(name, None)
            self._loaded.pop(name, None)
            return True

    def resolve(self, model: str) -> tuple[str, str | None] | None:
        """model id -> (base name, adapter dir or None); None when not served."""
        with self._lock:
            if model in self.bases:
                return model, None
            return self._ft.get(model)

    def backend(self, model: str) -> Backend:
        """The loaded backend of a served model id (loading it on first use)."""
        from inward.backends import load_backend

        base, adapter = self.resolve(model)  # type: ignore[misc]
        with self._lock:
            if model in self._loaded:
                self._loaded.move_to_end(model)
                return self._loaded[model]
        with self._load_lock:
            with self._lock:  # loaded by another request while this one waited
                if model in self._loaded:
                    return self._loaded[model]
            be = load_backend(self.bases[base], adapter=adapter, threads=self.threads)
            with self._lock:
                self._loaded[model] = be
                while len(self._loaded) > self.max_loaded:
                    self._loaded.popitem(last=False)
            return be

    def count_tokens(self, model: str, backend: Backend, messages: list[dict],
                     completions: list[str]) -> tuple[int, int]:
        """(prompt tokens, completion tokens) of one request, as ``usage`` reports them."""
        base, _ = self.resolve(model)  # type: ignore[misc]
        source = self.bases[base].source
        try:
            tok = getattr(backend, "tokenizer", None) or getattr(backend, "tok", None)
            if tok is None:
                with self._lock:
                    tok = self._tok.get(base)
                if tok is None:
                    from inward.models.embedded import load_tokenizer
                    tok = load_tokenizer(source)
                    with self._lock:
                        self._tok[base] = tok
            try:
                from inward.models.embedded import chat_format, format_chat
                text = format_chat(tok, messages, chat_format(source, tok))
            except Exception:  # noqa: BLE001 - fall back to the raw contents
                text = "\n".join(str(m.get("content", "")) for m in messages)
            # fast tokenizers must not be called from two threads at once
            with getattr(backend, "tokenizer_lock", None) or self._tok_lock:
                n_in = len(tok(text, add_special_tokens=False)["input_ids"])
                n_out = sum(len(tok(c, add_special_tokens=False)["input_ids"])
                            for c in completions)
            return n_in, n_out
        except Exception:  # noqa: BLE001 - approximate rather than fail the request
            n_in = sum(len(str(m.get("content", "")).split()) + 4 for m in messages)
            return n_in, sum(len(c.split()) for c in completions)
