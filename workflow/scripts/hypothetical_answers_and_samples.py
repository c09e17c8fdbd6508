# rule hypothetical_answers_and_samples: inward.pipeline.steps.hypothetical_answers_and_samples
from inward.pipeline.steps import hypothetical_answers_and_samples, run_step

run_step(hypothetical_answers_and_samples, snakemake)  # noqa: F821 - injected by Snakemake
