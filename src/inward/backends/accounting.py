"""Token and cost accounting of hosted-model calls, and the usage files that record it.

An :class:`Accountant` is fed by a backend while it works (thread-safe) and reports, per call
batch and cumulatively: request count (HTTP calls that returned a response), retries, prompt and
completion tokens (from ``usage``), cache hits and misses, and cost in USD from the model
config's ``price_per_1k_input`` / ``price_per_1k_output``.  ``write_accounting`` writes such a
dict as JSON (the pipeline writes ``logs/usage/<output>.usage.json`` for each rule output).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from inward.config.types import ModelConfig

COUNTERS = ("requests", "retries", "errors", "prompt_tokens", "completion_tokens",
            "cache_hits", "cache_misses", "mode_of_n_dropped")


def cost_usd(prompt_tokens: int, completion_tokens: int, cfg: ModelConfig | None) -> float:
    """USD at the config's prices per 1,000 tokens (no config: nothing is priced)."""
    cfg = cfg or ModelConfig()
    return round(prompt_tokens / 1000.0 * float(cfg.price_per_1k_input)
                 + completion_tokens / 1000.0 * float(cfg.price_per_1k_output), 8)


def _finish(counts: dict, cfg: ModelConfig | None, model: str | None) -> dict:
    out = dict(counts)
    out["total_tokens"] = out["prompt_tokens"] + out["completion_tokens"]
    out["cost_usd"] = cost_usd(out["prompt_tokens"], out["completion_tokens"], cfg)
    if model is not None:
        out["model"] = model
    return out


class Accountant:
    """Thread-safe counters: one running batch plus the cumulative total."""

    def __init__(self, cfg: ModelConfig | None = None, model: str | None = None):
        self.cfg = cfg
        self.model = model
        self._lock = threading.Lock()
        self._total = dict.fromkeys(COUNTERS, 0)
        self._batch = dict.fromkeys(COUNTERS, 0)
        self._batches = 0
        self.last_batch: dict | None = None

    def add(self, **counts: int) -> None:
        with self._lock:
            for k, v in counts.items():
                if k not in self._total:
                    raise KeyError(f"unknown counter {k!r}; known: {COUNTERS}")
                self._total[k] += int(v)
                self._batch[k] += int(v)

    def add_usage(self, usage) -> None:
        """Add an OpenAI ``usage`` object or dict (None is ignored)."""
        if usage is None:
            return
        get = usage.get if isinstance(usage, dict) else lambda k, d=0: getattr(usage, k, d)
        self.add(prompt_tokens=get("prompt_tokens", 0) or 0,
                 completion_tokens=get("completion_tokens", 0) or 0)

    def start_batch(self) -> None:
        with self._lock:
            self._batch = dict.fromkeys(COUNTERS, 0)

    def end_batch(self) -> dict:
        with self._lock:
            self._batches += 1
            self.last_batch = _finish(self._batch, self.cfg, self.model)
            return dict(self.last_batch)

    def stats(self) -> dict:
        """Cumulative counts since creation (or the last reset) plus the last batch."""
        with self._lock:
            out = _finish(self._total, self.cfg, self.model)
            out["batches"] = self._batches
            out["last_batch"] = dict(self.last_batch) if self.last_batch else None
            return out

    def reset(self) -> None:
        with self._lock:
            self._total = dict.fromkeys(COUNTERS, 0)
            self._batch = dict.fromkeys(COUNTERS, 0)
            self._batches = 0
            self.last_batch = None


def merge_stats(*stats: dict) -> dict:
    """Sum several stats dicts (e.g. from several backends used by one rule)."""
    out: dict = dict.fromkeys(COUNTERS + ("total_tokens",), 0)
    out["cost_usd"] = 0.0
    for s in stats:
        for k in COUNTERS + ("total_tokens",):
            out[k] += int(s.get(k, 0) or 0)
        out["cost_usd"] = round(out["cost_usd"] + float(s.get("cost_usd", 0) or 0), 8)
    return out


def write_accounting(stats: dict, path: str | Path) -> Path:
    """Write a stats dict as pretty JSON (parents created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(stats, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
    return path


USAGE_DIR = Path("logs") / "usage"


def usage_path(output: str | Path, root: str | Path = USAGE_DIR) -> Path:
    """``<root>/<output>.usage.json`` for a rule output (a path relative to the study).

    Usage is a record of one run (a re-run served from the response cache costs nothing), not a
    result, so it stays out of the DVC-tracked output folders, beside the logs.
    """
    output = Path(output)
    if output.is_absolute():
        output = output.relative_to(output.anchor)
    return Path(root) / output.with_name(output.name + ".usage.json")
