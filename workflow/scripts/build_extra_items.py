# rule extra_items: inward.pipeline.steps.build_extra_items
from inward.pipeline.steps import build_extra_items, run_step

run_step(build_extra_items, snakemake)  # noqa: F821 - injected by Snakemake
