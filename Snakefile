# inward: does a model predict its own behaviour better than other models do?
# The whole study as one DAG; every rule calls a function of inward.steps (see docs/ARCHITECTURE.md).
from snakemake.utils import min_version

min_version("8.20")


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    input:
        study_outputs(),
    default_target: True
