# rule transcripts: inward.pipeline.steps.transcripts
from inward.pipeline.steps import run_step, transcripts

run_step(transcripts, snakemake)  # noqa: F821 - injected by Snakemake
