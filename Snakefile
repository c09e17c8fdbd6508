# inward: does a model predict its own behaviour better than other models do?
# The whole study as one DAG; every rule calls a function of inward.steps (see docs/ARCHITECTURE.md).
from snakemake.utils import min_version

from inward.config import read_yaml

min_version("8.20")

# Snakemake's own reading of a broken params.yaml says only "not valid JSON or YAML"; this one
# names the line and the column.
read_yaml("params.yaml")


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    input:
        study_outputs(),
    default_target: True


onsuccess:
    # dvc.lock records the study only once it is complete (a dry run of `all` has nothing left);
    # after a targeted or partial run `dvc status` keeps reporting the stage as changed.
    from inward.record import record_if_complete

    record_if_complete()
