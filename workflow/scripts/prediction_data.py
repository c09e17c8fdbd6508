# rule self_data, cross_data: inward.pipeline.steps.prediction_data
from inward.pipeline.steps import prediction_data, run_step

run_step(prediction_data, snakemake)  # noqa: F821 - injected by Snakemake
