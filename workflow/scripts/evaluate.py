# rule evaluate: inward.pipeline.steps.evaluate
from inward.pipeline.steps import evaluate, run_step

run_step(evaluate, snakemake)  # noqa: F821 - injected by Snakemake
