# rule training_data: inward.pipeline.steps.training_data
from inward.pipeline.steps import run_step, training_data

run_step(training_data, snakemake)  # noqa: F821 - injected by Snakemake
