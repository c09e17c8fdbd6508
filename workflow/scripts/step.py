# Thin bridge from a Snakemake `script:` rule to inward.steps (the rule name picks the step).
from inward.steps import run_rule

run_rule(snakemake)  # noqa: F821 - injected by Snakemake
