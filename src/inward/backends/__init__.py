"""Model backends: the protocol every backend follows and the table of backends by name.

A backend answers chats for one model and finetunes it. ``BACKENDS`` maps the ``backend`` of a
model config (:class:`inward.config.types.ModelConfig`) to its class: ``local`` (a torch model,
LoRA finetunes; :mod:`inward.backends.local`), ``openai`` (an OpenAI-compatible API, hosted
finetunes; :mod:`inward.backends.hosted`) and ``served`` (answers from a server of one's own such
as vLLM, local LoRA finetunes loaded into it; :mod:`inward.backends.served`).
:func:`load_backend` and :func:`finetune` look the class up; each class is built from the model
config and has its own ``finetune``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from inward.config.types import LoraHparams, ModelConfig

__all__ = ["BACKENDS", "Backend", "finetune", "greedy_and_samples", "load_backend"]


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


def _local() -> type:
    from inward.backends.local import LocalBackend

    return LocalBackend


def _openai() -> type:
    from inward.backends.hosted import OpenAIBackend

    return OpenAIBackend


def _served() -> type:
    from inward.backends.served import ServedBackend

    return ServedBackend


class _Lazy(Mapping[str, type]):
    """Name -> class, each class's module imported when it is first looked up: steps that only
    move data import ``inward.backends`` and must not pay for torch or the openai client."""

    def __init__(self, **loaders: Callable[[], type]):
        self._loaders = loaders

    def __getitem__(self, name: str) -> type:
        return self._loaders[name]()

    def __contains__(self, name: object) -> bool:  # Mapping's would import the class
        return name in self._loaders

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaders)

    def __len__(self) -> int:
        return len(self._loaders)


BACKENDS: Mapping[str, type] = _Lazy(local=_local, openai=_openai, served=_served)
"""Backend classes by name: ``cls(cfg, adapter=None, threads=None)`` is a :class:`Backend`;
``cls.finetune(cfg, train_jsonl, out_dir, hparams, ...)`` finetunes the model."""


def _backend_class(cfg: ModelConfig) -> type:
    if cfg.backend not in BACKENDS:
        raise ValueError(f"unknown backend {cfg.backend!r}; allowed: {', '.join(BACKENDS)}")
    return BACKENDS[cfg.backend]


def load_backend(cfg: ModelConfig, adapter: str | Path | None = None,
                 threads: int | None = None) -> Backend:
    """A ready backend for ``cfg``; ``adapter`` is a LoRA directory (local, served) or a
    ``finetuned_model.json`` directory (openai)."""
    return _backend_class(cfg)(cfg, adapter=adapter, threads=threads)


def finetune(cfg: ModelConfig, train_jsonl, out_dir, hparams: LoraHparams, init_adapter=None,
             seed: int = 0, threads: int | None = None, val_jsonl=None) -> dict:
    """Finetune ``cfg``'s model on a chat JSONL (OpenAI format); returns a summary.

    local: LoRA -> out_dir/adapter_model.safetensors, adapter_config.json, train_log.csv, and
    loss_curve.csv (training and validation loss) when ``val_jsonl`` is given. openai: hosted
    job -> out_dir/finetuned_model.json (the provider keeps its own loss curves; the validation
    file is not uploaded).
    """
    return _backend_class(cfg).finetune(cfg, train_jsonl, out_dir, hparams,
                                        init_adapter=init_adapter, seed=seed, threads=threads,
                                        val_jsonl=val_jsonl)
