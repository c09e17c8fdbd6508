# rule training_data: inward.pipeline.steps.training_data
from inward.pipeline.steps import training_data, run_step

run_step(training_data, snakemake)  # noqa: F821 - injected by Snakemake
