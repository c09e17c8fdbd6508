# rule finetune, finetune_shift: inward.pipeline.steps.finetune
from inward.pipeline.steps import finetune, run_step

run_step(finetune, snakemake)  # noqa: F821 - injected by Snakemake
