"""Device, dtype and thread selection for the local torch backend.

CPU by default; CUDA (with bfloat16) automatically when a GPU is available. ``INWARD_DEVICE``
("cpu", "cuda", "cuda:1", ...) overrides the automatic choice. ``threads`` is the core count a
Snakemake rule was given; it is applied with ``torch.set_num_threads``.
"""

from __future__ import annotations

import os

import torch


def select_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given (not "auto"), else ``$INWARD_DEVICE``, else cuda when available,
    else cpu."""
    if isinstance(device, torch.device):
        return device
    if device in (None, "", "auto"):
        device = os.environ.get("INWARD_DEVICE") or None
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def default_dtype(device: str | torch.device | None = None) -> torch.dtype:
    """bfloat16 on CUDA (when supported), float32 on CPU."""
    dev = select_device(device)
    if dev.type == "cuda":
        ok = torch.cuda.is_bf16_supported() if torch.cuda.is_available() else False
        return torch.bfloat16 if ok else torch.float16
    return torch.float32


def resolve_dtype(dtype: str | torch.dtype | None, device=None) -> torch.dtype:
    if dtype is None or dtype == "auto":
        return default_dtype(device)
    if isinstance(dtype, torch.dtype):
        return dtype
    return {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16,
            "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16}[dtype]


def set_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count (None: leave it; ``$INWARD_THREADS`` if set); returns
    it."""
    if threads is None and os.environ.get("INWARD_THREADS"):
        threads = int(os.environ["INWARD_THREADS"])
    if threads is not None and threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def describe() -> str:
    dev = select_device()
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    return f"{name} ({default_dtype(dev)}, {torch.get_num_threads()} threads)"
