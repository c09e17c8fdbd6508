# inward: does a model predict its own behaviour better than other models do?
# The whole study as one DAG (rules in workflow/rules/); each rule's script: names the function of
# inward.pipeline.steps it runs (workflow/scripts/<function>.py; see docs/ARCHITECTURE.md).
# Run from the repository root: paths (params.yaml, data/, results/, reports/) are relative to it.
# Where jobs run is a profile: profiles/default (read by a bare `snakemake`), profiles/slurm.
from snakemake.utils import min_version

from inward.config.loading import read_yaml

min_version("8.20")

# Snakemake's own reading of a broken params.yaml says only "not valid JSON or YAML"; this one
# names the line and the column.
read_yaml("params.yaml")


configfile: "params.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/branches.smk"
include: "workflow/rules/transcripts.smk"


# Light steps (prompts, finetuning data, loss curves, figures, report) run where Snakemake runs,
# under a cluster profile too: they take seconds, less than a cluster job takes to start.
localrules:
    all,
    items,
    self_data,
    cross_data,
    replay_data,
    shift_data,
    training_data,
    cross_subset,
    held_in_items,
    loss_curves,
    figures,
    report,
    benchmarks,
    transcripts,


rule all:
    input:
        study_outputs(),
        layout.BENCHMARKS,
    default_target: True


onsuccess:
    # dvc.lock records the study only once it is complete (a dry run of `all` has nothing left);
    # after a targeted or partial run `dvc status` keeps reporting the stage as changed.
    from inward.pipeline.dvc_record import record_if_complete

    record_if_complete()
