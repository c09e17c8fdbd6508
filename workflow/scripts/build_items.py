# rule items: inward.pipeline.steps.build_items
from inward.pipeline.steps import build_items, run_step

run_step(build_items, snakemake)  # noqa: F821 - injected by Snakemake
