# rule hypothetical_answers: inward.pipeline.steps.hypothetical_answers
from inward.pipeline.steps import hypothetical_answers, run_step

run_step(hypothetical_answers, snakemake)  # noqa: F821 - injected by Snakemake
