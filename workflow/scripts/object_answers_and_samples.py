# rule object_answers_and_samples: inward.pipeline.steps.object_answers_and_samples
from inward.pipeline.steps import object_answers_and_samples, run_step

run_step(object_answers_and_samples, snakemake)  # noqa: F821 - injected by Snakemake
