# Config validation and the helpers that build paths; no logic beyond naming.
import os

from inward import layout
from inward.config import check_config, finetune_hparams

# Everything params.yaml points at is checked here, at parse time: a bad input stops Snakemake
# before it plans, deletes or runs anything (the same checks as `inward check-params`).
check_config(config, "params.yaml")

MODELS = list(config["models"])
SEED = config["base"]["seed"]
PROPS = config["tasks"]["properties"]
STEP = "../scripts/step.py"


def MODEL_THREADS(wildcards):
    """Model jobs take half the cores each: two jobs side by side overlap their start-up
    (imports, model load), which dominates small studies on a small machine. Read when a job
    is planned, not at parse time, so that commands which plan no job (`snakemake --unlock`)
    need no --cores."""
    return max(1, workflow.cores // 2)


wildcard_constraints:
    agent=r"[A-Za-z0-9][A-Za-z0-9._-]*",
    model=r"[A-Za-z0-9][A-Za-z0-9.-]*(_[A-Za-z0-9.-]+)*",
    split=r"train|test",


def model_of(wc):
    """The params.yaml entry of the base model behind an agent."""
    return config["models"][layout.parse_agent(wc.agent).model]


def adapter_of(wc):
    """The adapter folder an agent runs with ([] for an untrained model)."""
    agent = layout.parse_agent(wc.agent)
    return [] if agent.kind == "base" else layout.adapter_dir(wc.agent)


def finetune_sources(wc):
    return layout.finetune_sources(wc.agent)


def hparams_of(wc):
    return finetune_hparams(config, wc.agent)


def gpu_of(wc):
    """A local model occupies the GPU while it runs, when one is there."""
    return 1 if model_of(wc)["backend"] == "local" and os.environ.get("CUDA_VISIBLE_DEVICES") else 0


def split_tasks(wc):
    return config["tasks"][wc.split]


def split_size(wc):
    return config["tasks"][f"n_{wc.split}_items"]


def split_files(wc):
    """User task files (name -> JSONL path) belonging to this split."""
    files = config["tasks"].get("files") or {}
    return {k: v for k, v in files.items() if k in config["tasks"][wc.split]}


def shift_source_answers(wc):
    """Training-task answers of the model whose behaviour the shift finetune imitates."""
    return layout.object_path(layout.shift_source(MODELS, wc.model), "train")


def self_adapter_of(wc):
    return layout.adapter_dir(layout.Agent(layout.parse_agent(wc.agent).model, "self").name)


def study_outputs():
    """Every file and folder of the complete study; DVC's outs hold exactly these, so a
    missing one is rebuilt by a plain `snakemake`."""
    return layout.study_files(MODELS)
