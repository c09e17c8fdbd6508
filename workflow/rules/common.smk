# Config validation and the helpers that build paths; no logic beyond naming.
from inward.study import layout
from inward.config import placement
from inward.tasks import task_files
from inward.config.loading import check_config
from inward.config.types import plain

# Everything params.yaml points at is checked here, at parse time: a bad input stops Snakemake
# before it plans, deletes or runs anything (the same checks as `inward check-params`). PARAMS is
# the typed form; rule params stay JSON-able (a step types them again, in run_step).
PARAMS = check_config(config, "params.yaml")

MODELS = list(PARAMS.under_study)  # compared; a model with under_study: false only answers
SEED = PARAMS.seed
PROPS = list(PARAMS.tasks.properties)
# the optional branches (workflow/rules/branches.smk), both off by default: cross-data scaling
# and held-in items
SCALING = list(PARAMS.cross.scaling)
HELD_IN_ON = PARAMS.tasks.n_held_in_items > 0
# where the behaviour shift's answers come from (shift:), and whether the calibration variant
# runs (calibration.variant): the paper's protocols, beside inward's laptop ones
SHIFT = layout.ShiftPlan(PARAMS.shift.source, "shift" if PARAMS.shift.on_new_prompts else "train")
VARIANT = PARAMS.calibration.variant
# the sampled answers' settings, without the variant's: a variant added or changed must not
# rerun the held-out sample jobs
POOLED_CALIB = {k: v for k, v in config["calibration"].items() if k != "variant"}


def MODEL_THREADS(wildcards):
    """Model jobs take half the cores each: two jobs side by side overlap their start-up
    (imports, model load), which dominates small studies on a small machine. Read when a job
    is planned, not at parse time, so that commands which plan no job (`snakemake --unlock`)
    need no --cores. A cluster profile sets them with `set-threads`."""
    return max(1, workflow.cores // 2)


# Every job's memory (MB) and wall time (minutes), for any executor to place it; a profile's
# `set-resources` overrides them (profiles/slurm does for big models).
LIGHT = {"mem_mb": 2000, "runtime": 30}
MODEL_MEM_MB = 6000
FINETUNE_MEM_MB = 8000
MODEL_RUNTIME = 240

# On a cluster, the model jobs of one agent form one group (a profile's `group-components`
# joins its independent answer jobs), so the scheduler sees few, large jobs. Local runs
# ignore groups.
AGENT_GROUP = "agent_{agent}"


wildcard_constraints:
    agent=r"[A-Za-z0-9][A-Za-z0-9._-]*(@[0-9][0-9.e-]*)?",
    model=r"[A-Za-z0-9][A-Za-z0-9.-]*(_[A-Za-z0-9.-]+)*",
    split=r"train|test|shift|heldin",
    extra=r"shift|calibration",
    level=r"object|hypothetical",


def model_of(wc):
    """The params.yaml entry of the base model behind an agent."""
    return config["models"][layout.parse_agent(wc.agent).model]  # as written: resume keys


def adapter_of(wc):
    """The adapter folder an agent runs with ([] for an untrained model)."""
    agent = layout.parse_agent(wc.agent)
    return [] if agent.kind == "base" else layout.adapter_dir(wc.agent)


def held_out_priority(wc):
    """Scheduling rank of an agent's held-out answer jobs (the finetunes rank 50, the jobs that
    feed them 40 or more). An untrained agent's need no finetune and nothing waits on them:
    long jobs that best fill the cores early. A trained agent's come last, as short jobs
    balance the study's end. Without the difference Snakemake breaks the tie in favour of the
    jobs with the bigger inputs, the trained agents', and the untrained ones ran last."""
    return 20 if layout.parse_agent(wc.agent).kind == "base" else 10


def finetune_sources(wc):
    return layout.finetune_sources(wc.agent)


def hparams_of(wc):
    """The LoRA values of an agent's finetune, as written (self for self and cross; shift
    updated with the model's own shift_finetune)."""
    return plain(PARAMS.finetune_hparams(wc.agent).written)


def replay_weight_of(wc):
    return PARAMS.replay_weight(wc.model)


def gpu_of(wc):
    """GPUs a job of this agent asks for: its model's `gpus` entry in params.yaml (local
    models only; 0 when absent), never the submitting host's environment."""
    return placement.gpus_of(PARAMS.models[layout.parse_agent(wc.agent).model])


def split_tasks(wc):
    return list(PARAMS.tasks.split(wc.split))


def split_size(wc):
    return PARAMS.tasks.n_items(wc.split)


def split_files(wc):
    """Task files of this split's tasks (task name -> source), passed to the items step."""
    return task_files.split_sources(PARAMS.tasks.files, PARAMS.tasks.split(wc.split))


def split_file_inputs(wc):
    """The files behind this split's file tasks: inputs, so editing one reruns its split."""
    return task_files.split_inputs(PARAMS.tasks.files, PARAMS.tasks.split(wc.split))


def shift_source_answers(wc):
    """Answers of the model whose behaviour the shift finetune imitates: to the training
    items, or to the shift's own items (shift.tasks)."""
    return layout.object_path(layout.shift_source(MODELS, wc.model, SHIFT), SHIFT.split)


def extra_counts(wc):
    """Prompts per task of the shift or calibration items, and those other splits take first."""
    counts, offsets = PARAMS.extra_split(wc.extra)
    return {"counts": counts, "offsets": offsets}


def extra_files(wc):
    """Task files of the tasks of the shift or calibration items (task name -> source)."""
    return task_files.split_sources(PARAMS.tasks.files, list(PARAMS.extra_split(wc.extra)[0]))


def extra_file_inputs(wc):
    return task_files.split_inputs(PARAMS.tasks.files, list(PARAMS.extra_split(wc.extra)[0]))


def self_adapter_of(wc):
    return layout.adapter_dir(layout.Agent(layout.parse_agent(wc.agent).model, "self").name)


def study_outputs():
    """Every file and folder of the complete study; DVC's outs hold exactly these, so a
    missing one is rebuilt by a plain `snakemake`."""
    return layout.study_files(MODELS, SHIFT, VARIANT is not None) + layout.branch_files(
        MODELS, SCALING, HELD_IN_ON
    )


def branch_outputs(wc=None):
    """What the optional branches' model jobs write (answers and adapters)."""
    scaled = [a.name for a in layout.scaled_cross_agents(MODELS, SCALING)]
    held_in = layout.held_in_files(MODELS)[1:] if HELD_IN_ON else []  # not the items
    return [p for a in scaled for p in (layout.hypo_path(a), layout.adapter_dir(a))] + held_in


def branch_evaluation_inputs(wc):
    """What evaluate reads for the optional branches: the scaled cross agents' answers and
    examples (the training-set sizes), and every answer to the held-in items."""
    scaled = [a.name for a in layout.scaled_cross_agents(MODELS, SCALING)]
    held_in = layout.held_in_files(MODELS)[1:] if HELD_IN_ON else []
    examples = layout.scaled_sft_files(MODELS, SCALING) + (
        [layout.sft_path("cross", m) for m in MODELS] if SCALING else []
    )
    return [layout.hypo_path(a) for a in scaled] + examples + held_in


def held_in_items_input(wc):
    """The held-in items file as one path (a list would reach the step as a list), [] off."""
    return layout.items_path(layout.HELD_IN) if HELD_IN_ON else []


def model_outputs(wc=None):
    """What every model job of the study writes (answers, distributions, adapters)."""
    objects, hypos = layout.calibration_agents(MODELS)
    return (
        [layout.object_path(a, s) for a, s in layout.object_needs(MODELS, SHIFT)]
        + [layout.hypo_path(a) for a in layout.hypothetical_agents(MODELS, SHIFT)]
        + [layout.object_dist_path(a) for a in objects]
        + [layout.hypo_dist_path(a) for a in hypos]
        + (layout.variant_files(MODELS) if VARIANT else [])
        + [layout.adapter_dir(a.name) for a in layout.finetuned_agents(MODELS, SHIFT)]
        + branch_outputs()
    )


def evaluation_inputs(wc):
    objects, hypos = layout.calibration_agents(MODELS)
    return (
        [layout.object_path(a, s) for a, s in layout.object_needs(MODELS, SHIFT) if s == "test"]
        + [layout.hypo_path(a) for a in layout.hypothetical_agents(MODELS, SHIFT)]
        + [layout.object_dist_path(a) for a in objects]
        + [layout.hypo_dist_path(a) for a in hypos]
        + (layout.variant_files(MODELS) if VARIANT else [])
        + branch_evaluation_inputs(wc)
    )
