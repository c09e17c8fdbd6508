# rule object_answers: inward.pipeline.steps.object_answers
from inward.pipeline.steps import object_answers, run_step

run_step(object_answers, snakemake)  # noqa: F821 - injected by Snakemake
