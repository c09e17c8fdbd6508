# rule replay_data, shift_data: inward.pipeline.steps.object_data
from inward.pipeline.steps import object_data, run_step

run_step(object_data, snakemake)  # noqa: F821 - injected by Snakemake
