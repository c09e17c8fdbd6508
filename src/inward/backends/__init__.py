"""Model backends: one protocol, a local torch implementation and a hosted (OpenAI) one.

``model_cfg`` comes from params.yaml, e.g. ``{"backend": "local", "source":
"embedded:smollm2-135m"}`` or ``{"backend": "openai", "model": "gpt-4o", ...}``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["Backend", "finetune", "get_backend", "greedy_and_samples", "load_backend"]


@runtime_checkable
class Backend(Protocol):
    name: str

    def generate(self, chats: list[list[dict]], max_new_tokens: int = 32,
                 temperature: float = 0.0, seed: int = 0,
                 progress: bool = False) -> list[str]: ...

    def sample(self, chats: list[list[dict]], n: int, max_new_tokens: int = 32,
               temperature: float = 1.0, seed: int = 0) -> list[list[str]]: ...

    def answer_distribution(self, chats: list[list[dict]], k: int = 5) -> list[dict[str, float]]:
        ...


def greedy_and_samples(backend: Backend, chats: list[list[dict]], n: int, max_new_tokens: int,
                       temperature: float, seed: int) -> list[tuple[str, list[str]]]:
    """Per chat, the greedy answer and ``n`` sampled answers. A local model computes both from
    one prefill; other backends make the two calls."""
    if hasattr(backend, "greedy_and_samples") and temperature and temperature > 0 and n >= 1:
        return backend.greedy_and_samples(chats, n, max_new_tokens=max_new_tokens,
                                          temperature=temperature, seed=seed)
    greedy = backend.generate(chats, max_new_tokens=max_new_tokens, temperature=0.0, seed=seed)
    samples = backend.sample(chats, n=n, max_new_tokens=max_new_tokens,
                             temperature=temperature, seed=seed)
    return list(zip(greedy, samples, strict=True))


def _kind(model_cfg: dict) -> str:
    kind = model_cfg.get("backend", "local")
    if kind not in ("local", "openai"):
        raise ValueError(f"unknown backend {kind!r}; allowed: local, openai")
    return kind


def load_backend(model_cfg: dict, adapter: str | Path | None = None,
                 threads: int | None = None) -> Backend:
    """A ready backend for ``model_cfg``; ``adapter`` is a LoRA directory (local) or a
    ``finetuned_model.json`` directory (openai)."""
    if _kind(model_cfg) == "openai":
        from inward.backends.hosted import OpenAIBackend

        return OpenAIBackend(model_cfg, adapter=adapter, threads=threads)
    from inward.backends.local import LocalBackend

    return LocalBackend(model_cfg, adapter=adapter, threads=threads)


def get_backend(spec: dict, adapter: str | Path | None = None,
                threads: int | None = None) -> Backend:
    """Alias of :func:`load_backend`."""
    return load_backend(spec, adapter=adapter, threads=threads)


def finetune(model_cfg: dict, train_jsonl, out_dir, hparams: dict, init_adapter=None,
             seed: int = 0, threads: int | None = None, val_jsonl=None) -> dict:
    """Finetune ``model_cfg`` on a chat JSONL (OpenAI format).

    local: LoRA via :mod:`inward.backends.lora` -> out_dir/adapter_model.safetensors, adapter_config.json,
    train_log.csv, and loss_curve.csv (training and validation loss) when ``val_jsonl`` is
    given. openai: hosted job -> out_dir/finetuned_model.json (the provider keeps its own loss
    curves; the validation file is not uploaded).
    """
    if _kind(model_cfg) == "openai":
        from inward.backends.hosted import finetune_openai

        return finetune_openai(model_cfg, train_jsonl, out_dir, hparams,
                               init_adapter=init_adapter, seed=seed, threads=threads)
    from inward.backends.lora import finetune_lora

    return finetune_lora(model_cfg.get("source", "embedded:smollm2-135m"), train_jsonl, out_dir,
                         hparams, init_adapter=init_adapter, seed=seed, threads=threads,
                         device=model_cfg.get("device"), dtype=model_cfg.get("dtype"),
                         val_jsonl=val_jsonl)
