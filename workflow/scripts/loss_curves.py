# rule loss_curves: inward.pipeline.steps.loss_curves
from inward.pipeline.steps import loss_curves, run_step

run_step(loss_curves, snakemake)  # noqa: F821 - injected by Snakemake
