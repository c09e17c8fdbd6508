# rule figures: inward.pipeline.steps.figures
from inward.pipeline.steps import figures, run_step

run_step(figures, snakemake)  # noqa: F821 - injected by Snakemake
