"""Byte-compile the modules a study imports, once, at installation.

pip byte-compiles every file it installs: about a minute here for ~17,000 files, most of which
(hundreds of transformers model families, the openai client's types, sympy) no study job
imports. ``make install`` installs with ``--no-compile`` and then runs ``python -m
inward.pipeline.bytecode``, which imports the modules every study job uses with bytecode writing
on, so only those get cached ``.pyc`` files (about 30 s instead of 60). A module missed here still
works: it is compiled when first imported (and each time, where PYTHONDONTWRITEBYTECODE is
set)."""

from __future__ import annotations

import importlib
import os
import sys

# what the Snakemake jobs, the `inward` command and the local models import
MODULES = (
    "inward.cli", "inward.pipeline.steps", "inward.backends.local", "inward.backends.hosted",
    "inward.backends.lora", "inward.scoring.evaluation", "inward.reporting.report",
    "inward.reporting.plots", "inward.reporting.loss_curves",
    "torch", "transformers", "transformers.models.gemma3.modeling_gemma3",
    "transformers.models.llama.modeling_llama",
    "transformers.models.gemma.tokenization_gemma_fast",
    "transformers.models.llama.tokenization_llama_fast",
    "peft", "peft.tuners.lora", "safetensors.torch", "snakemake.cli", "snakemake.script",
    "dvc.cli", "dvc.repo", "polars", "altair",
)


def main() -> int:
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("inward.pipeline.bytecode: PYTHONDONTWRITEBYTECODE is set; run it with the "
              "variable empty",
              file=sys.stderr)
        return 2
    for name in MODULES:
        importlib.import_module(name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
