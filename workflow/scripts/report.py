# rule report: inward.pipeline.steps.report
from inward.pipeline.steps import report, run_step

run_step(report, snakemake)  # noqa: F821 - injected by Snakemake
