"""Where every artefact of a study lives, and which agents a study contains.

An *agent* is a model plus the finetunes applied to it, named so that it can be a path segment
and a Snakemake wildcard:

- ``{model}``                   the untrained model,
- ``{model}__self``             self-prediction finetune of the model on its own behaviour,
- ``{model}__cross__{target}``  the model finetuned to predict ``{target}__self``'s behaviour,
- ``{model}__shift``            ``{model}__self`` further finetuned on object-level answers only.

Model names may not contain ``__`` (checked by ``inward.config.validation``). The Snakefile and
``inward.pipeline.steps`` both build paths with these functions, so there is one source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import permutations

SEP = "__"
KINDS = ("base", "self", "cross", "shift")


@dataclass(frozen=True)
class Agent:
    """A model and the finetune chain that produced it."""

    model: str
    kind: str = "base"
    target: str | None = None  # for cross agents: whose self-trained behaviour is predicted

    @property
    def name(self) -> str:
        if self.kind == "base":
            return self.model
        if self.kind == "cross":
            return f"{self.model}{SEP}cross{SEP}{self.target}"
        return f"{self.model}{SEP}{self.kind}"

    @property
    def adapter_chain(self) -> Agent | None:
        """The agent whose adapter this agent's finetune starts from (shift continues self)."""
        return Agent(self.model, "self") if self.kind == "shift" else None


def parse_agent(name: str) -> Agent:
    """Inverse of ``Agent.name``; raises ValueError on a malformed name."""
    parts = name.split(SEP)
    if len(parts) == 1:
        return Agent(parts[0])
    if len(parts) == 2 and parts[1] in ("self", "shift"):
        return Agent(parts[0], parts[1])
    if len(parts) == 3 and parts[1] == "cross":
        return Agent(parts[0], "cross", parts[2])
    raise ValueError(f"malformed agent name {name!r}: expected MODEL, MODEL__self, "
                     "MODEL__shift or MODEL__cross__TARGET")


# --- paths -------------------------------------------------------------------------------------
ITEMS = "data/items/{split}.jsonl"
SFT = "data/sft/{kind}/{model}.jsonl"  # kind: self, cross (prediction examples), replay, shift
TRAIN = "data/sft/train/{agent}.jsonl"  # one finetune's training set (its examples, mixed)
VAL = "data/sft/val/{agent}.jsonl"      # ... and its validation set
OBJECT = "results/object/{agent}/{split}.jsonl"
HYPO = "results/hypothetical/{agent}/test.jsonl"
ADAPTER = "results/adapters/{agent}"
OBJECT_DIST = "results/calibration/{agent}/object.jsonl"
HYPO_DIST = "results/calibration/{agent}/hypothetical.jsonl"
METRICS = "reports/metrics.json"
HEADLINE = "reports/headline.json"  # the few metrics `dvc exp show` lists
TABLES = "reports/tables"
FIGURES = "reports/figures"
REPORT = "reports/report.md"
LOSS_CURVES = "reports/loss_curves"          # one CSV per finetune (DVC plots)
LOSS_CURVE = "reports/loss_curves/{agent}.csv"
LOSS_FIGURE = "reports/loss_curves.png"      # all of them in one figure
LOSS_PAGE = "reports/loss_curves.html"       # ... and as an interactive page
# Snakemake benchmark files of the model jobs (time, memory: machine-specific, so not DVC outs)
BENCH_OBJECT = "logs/benchmarks/object/{agent}_{split}.tsv"
BENCH_HYPO = "logs/benchmarks/hypothetical/{agent}.tsv"
BENCH_FINETUNE = "logs/benchmarks/finetune/{agent}.tsv"
BENCHMARKS = "logs/benchmarks/summary.csv"   # all of them in one table (the Snakemake report's)


def items_path(split: str) -> str:
    return ITEMS.format(split=split)


def sft_path(kind: str, model: str) -> str:
    return SFT.format(kind=kind, model=model)


def loss_curve_path(agent: str) -> str:
    return LOSS_CURVE.format(agent=agent)


def train_path(agent: str) -> str:
    return TRAIN.format(agent=agent)


def val_path(agent: str) -> str:
    return VAL.format(agent=agent)


def finetune_sources(agent: str) -> list[str]:
    """The example files mixed into an agent's finetuning data.

    - ``M__self``: M's own behaviour as prediction examples, plus M's object-level answers
      replayed (so that learning to predict does not change the behaviour being predicted);
    - ``M2__cross__M1``: M1__self's behaviour as prediction examples (the same questions as
      M1's self data), plus M2's own object-level answers replayed: the recipe of self-training,
      with another model's labels;
    - ``M__shift``: another model's object-level answers only.
    """
    a = parse_agent(agent)
    if a.kind == "self":
        return [sft_path("self", a.model), sft_path("replay", a.model)]
    if a.kind == "cross":
        return [sft_path("cross", a.target), sft_path("replay", a.model)]
    if a.kind == "shift":
        return [sft_path("shift", a.model)]
    raise ValueError(f"{agent!r} is not a finetuned agent")


def object_path(agent: str, split: str) -> str:
    return OBJECT.format(agent=agent, split=split)


def hypo_path(agent: str) -> str:
    return HYPO.format(agent=agent)


def adapter_dir(agent: str) -> str:
    return ADAPTER.format(agent=agent)


def object_dist_path(agent: str) -> str:
    return OBJECT_DIST.format(agent=agent)


def hypo_dist_path(agent: str) -> str:
    return HYPO_DIST.format(agent=agent)


# --- the study's agents ------------------------------------------------------------------------
def shift_source(models: list[str], model: str) -> str:
    """Whose object-level answers the behaviour-shift finetune of ``model`` imitates: the next
    model in the list (cyclically), so the new behaviour differs from the model's own."""
    i = models.index(model)
    return models[(i + 1) % len(models)]


@dataclass(frozen=True)
class Comparison:
    """Everything scored against one target model ``target`` (M1)."""

    target: str
    untrained: str          # M1 predicting its untrained self
    self_trained: str       # M1__self predicting itself
    cross: dict[str, str]   # M2 name -> agent M2__cross__M1
    shift: str | None       # M1__shift, or None with a single model


def comparisons(models: list[str]) -> list[Comparison]:
    """One comparison per model: self vs every other model as cross-predictor (all ordered
    pairs); behaviour shift only when there is another model to imitate."""
    out = []
    for m in models:
        cross = {b: Agent(b, "cross", m).name for b in models if b != m}
        shift = Agent(m, "shift").name if len(models) > 1 else None
        out.append(Comparison(m, m, Agent(m, "self").name, cross, shift))
    return out


def finetuned_agents(models: list[str]) -> list[Agent]:
    agents = [Agent(m, "self") for m in models]
    agents += [Agent(b, "cross", a) for a, b in permutations(models, 2)]
    if len(models) > 1:
        agents += [Agent(m, "shift") for m in models]
    return agents


def hypothetical_agents(models: list[str]) -> list[str]:
    """Agents whose hypothetical answers on held-out tasks are needed."""
    return [m for m in models] + [a.name for a in finetuned_agents(models)]


def object_needs(models: list[str]) -> list[tuple[str, str]]:
    """(agent, split) pairs whose object-level answers are needed.

    - base on train: labels for its self-prediction finetune (and shift data of another model);
    - base on test: target for the untrained comparison;
    - self on train: labels for cross-prediction finetunes; self on test: the main target;
    - shift on test: the new behaviour.
    """
    needs = []
    for m in models:
        needs += [(m, "train"), (m, "test"), (f"{m}{SEP}self", "test")]
        if len(models) > 1:
            needs += [(f"{m}{SEP}self", "train"), (f"{m}{SEP}shift", "test")]
    return needs


# The agents of ``calibration_agents`` as regular expressions, for Snakemake's wildcard
# constraints: their held-out answers are computed together with their samples.
_MODEL_RE = r"[A-Za-z0-9][A-Za-z0-9.-]*(?:_[A-Za-z0-9.-]+)*"
CALIBRATED_OBJECT_AGENT = rf"{_MODEL_RE}(?:{SEP}self)?"
CALIBRATED_HYPO_AGENT = rf"{_MODEL_RE}(?:{SEP}self|{SEP}cross{SEP}{_MODEL_RE})?"


def calibration_agents(models: list[str]) -> tuple[list[str], list[str]]:
    """(agents needing object-level distributions, agents needing hypothetical distributions)."""
    objects = [m for m in models] + [f"{m}{SEP}self" for m in models]
    hypos = objects + [Agent(b, "cross", a).name for a, b in permutations(models, 2)]
    return objects, hypos


def sft_needs(models: list[str]) -> list[tuple[str, str]]:
    """(kind, model) of every finetuning example file: self data and replayed answers per
    model; with more than one model, cross data per target and shift data per model."""
    needs = [("self", m) for m in models] + [("replay", m) for m in models]
    if len(models) > 1:
        needs += [("cross", m) for m in models] + [("shift", m) for m in models]
    return needs


def study_files(models: list[str]) -> list[str]:
    """Every output of a complete study: the Snakefile's default target, and exactly what the
    DVC outs hold (adapters, tables and figures are folders)."""
    objects, hypos = calibration_agents(models)
    return ([items_path(s) for s in ("train", "test")]
            + [sft_path(kind, m) for kind, m in sft_needs(models)]
            + [object_path(a, s) for a, s in object_needs(models)]
            + [hypo_path(a) for a in hypothetical_agents(models)]
            + [p for a in finetuned_agents(models) for p in (train_path(a.name),
                                                              val_path(a.name))]
            + [adapter_dir(a.name) for a in finetuned_agents(models)]
            + [object_dist_path(a) for a in objects]
            + [hypo_dist_path(a) for a in hypos]
            + [loss_curve_path(a.name) for a in finetuned_agents(models)]
            + [METRICS, HEADLINE, TABLES, FIGURES, REPORT, LOSS_FIGURE, LOSS_PAGE])


def model_jobs(models: list[str]) -> list[tuple[str, str, str]]:
    """(rule, agent and split, benchmark file) of every model job of a study; the held-out
    answers of a calibrated agent come from the fused answers-and-samples rules."""
    objects, hypos = calibration_agents(models)
    return ([("object_answers_and_samples" if s == "test" and a in objects else "object_answers",
              f"{a} {s}", BENCH_OBJECT.format(agent=a, split=s))
             for a, s in object_needs(models)]
            + [("hypothetical_answers_and_samples" if a in hypos else "hypothetical_answers", a,
                BENCH_HYPO.format(agent=a)) for a in hypothetical_agents(models)]
            + [("finetune_shift" if a.kind == "shift" else "finetune", a.name,
                BENCH_FINETUNE.format(agent=a.name)) for a in finetuned_agents(models)])
