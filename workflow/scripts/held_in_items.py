# rule held_in_items: inward.pipeline.steps.held_in_items
from inward.pipeline.steps import held_in_items, run_step

run_step(held_in_items, snakemake)  # noqa: F821 - injected by Snakemake
