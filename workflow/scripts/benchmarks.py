# rule benchmarks: inward.pipeline.steps.benchmarks
from inward.pipeline.steps import benchmarks, run_step

run_step(benchmarks, snakemake)  # noqa: F821 - injected by Snakemake
