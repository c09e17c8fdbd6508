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


onsuccess:
    # After a plain `snakemake` run, record the outputs in dvc.lock so `dvc status` agrees.
    # Under `dvc repro` (DVC_STAGE is set) DVC records them itself.
    if (not os.environ.get("DVC_STAGE") and os.path.isdir(".dvc")
            and all(os.path.exists(p) for p in study_outputs())):
        shell("dvc commit --force --quiet study || echo 'dvc commit failed: run it by hand' >&2")
