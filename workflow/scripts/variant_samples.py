# rule variant_samples: inward.pipeline.steps.variant_samples
from inward.pipeline.steps import run_step, variant_samples

run_step(variant_samples, snakemake)  # noqa: F821 - injected by Snakemake
