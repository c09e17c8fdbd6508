# rule cross_subset: inward.pipeline.steps.cross_subset
from inward.pipeline.steps import cross_subset, run_step

run_step(cross_subset, snakemake)  # noqa: F821 - injected by Snakemake
