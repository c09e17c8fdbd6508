"""Where every artefact of a study lives, and which agents a study contains.

An *agent* is a model plus the finetunes applied to it, named so that it can be a path segment
and a Snakemake wildcard:

- ``{model}``                   the untrained model,
- ``{model}__self``             self-prediction finetune of the model on its own behaviour,
- ``{model}__cross__{target}``  the model finetuned to predict ``{target}__self``'s behaviour,
- ``{model}__shift``            ``{model}__self`` further finetuned on object-level answers only,
- ``{model}__cross__{target}@{k}`` a cross-predictor trained on a share k of the cross-prediction
  examples (the ``cross.scaling`` branch).

Model names may not contain ``__`` (checked by ``inward.config.validation``). The Snakefile and
``inward.pipeline.steps`` both build paths with these functions, so there is one source of truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import permutations

SEP = "__"
SCALE_SEP = "@"  # M2__cross__M1@0.5: trained on half of the cross-prediction examples
KINDS = ("base", "self", "cross", "shift")


@dataclass(frozen=True)
class Agent:
    """A model and the finetune chain that produced it."""

    model: str
    kind: str = "base"
    target: str | None = None  # for cross agents: whose self-trained behaviour is predicted
    scale: str | None = None  # scaled cross agents: the share of the cross data, as a label

    @property
    def name(self) -> str:
        if self.kind == "base":
            return self.model
        if self.kind == "cross":
            suffix = f"{SCALE_SEP}{self.scale}" if self.scale else ""
            return f"{self.model}{SEP}cross{SEP}{self.target}{suffix}"
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
        target, at, scale = parts[2].partition(SCALE_SEP)
        if not at:
            return Agent(parts[0], "cross", target)
        if scale and target:
            return Agent(parts[0], "cross", target, scale)
    raise ValueError(f"malformed agent name {name!r}: expected MODEL, MODEL__self, "
                     "MODEL__shift, MODEL__cross__TARGET or MODEL__cross__TARGET@SHARE")


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
# the calibration variant's samples (calibration.variant), level: object or hypothetical
VARIANT = "results/calibration/{agent}/variant_{level}.jsonl"
METRICS = "reports/metrics.json"
HEADLINE = "reports/headline.json"  # the few metrics `dvc exp show` lists
TABLES = "reports/tables"
FIGURES = "reports/figures"
REPORT = "reports/report.md"
LOSS_CURVES = "reports/loss_curves"          # one CSV per finetune (DVC plots)
LOSS_CURVE = "reports/loss_curves/{agent}.csv"
LOSS_FIGURE = "reports/loss_curves.png"      # all of them in one figure
LOSS_PAGE = "reports/loss_curves.html"       # ... and as an interactive page
# every held-out answer of every agent, one row per (agent, item, property), and its page
TRANSCRIPTS = "reports/transcripts.parquet"
TRANSCRIPTS_CSV = "reports/transcripts.csv"
TRANSCRIPTS_PAGE = "reports/transcripts.html"
# Snakemake benchmark files of the model jobs (time, memory: machine-specific, so not DVC outs)
BENCH_OBJECT = "logs/benchmarks/object/{agent}_{split}.tsv"
BENCH_HYPO = "logs/benchmarks/hypothetical/{agent}.tsv"
BENCH_FINETUNE = "logs/benchmarks/finetune/{agent}.tsv"
BENCH_VARIANT = "logs/benchmarks/variant/{agent}_{level}.tsv"
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
    - ``M2__cross__M1@k``: as ``M2__cross__M1``, with a share k of its prediction examples
      (``scaled_sft_path``);
    - ``M__shift``: another model's object-level answers only.
    """
    a = parse_agent(agent)
    if a.kind == "self":
        return [sft_path("self", a.model), sft_path("replay", a.model)]
    if a.kind == "cross" and a.scale:
        return [scaled_sft_path(a.target, a.scale), sft_path("replay", a.model)]
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


def variant_path(agent: str, level: str) -> str:
    return VARIANT.format(agent=agent, level=level)


def object_dist_path(agent: str) -> str:
    return OBJECT_DIST.format(agent=agent)


def hypo_dist_path(agent: str) -> str:
    return HYPO_DIST.format(agent=agent)


# --- the study's agents ------------------------------------------------------------------------
@dataclass(frozen=True)
class ShiftPlan:
    """Where the behaviour shift's answers come from (``shift:`` of params.yaml).

    ``source``: one model whose answers every shift imitates (any model of params.yaml, under
    study or not); None: each model imitates the next model under study, cyclically.
    ``split``: the items the source answers: ``train`` (the training items) or ``shift`` (new
    prompts of ``shift.tasks``, ``data/items/shift.jsonl``)."""

    source: str | None = None
    split: str = "train"

    def source_of(self, models: list[str], model: str) -> str | None:
        """Whose answers ``model``'s shift imitates; None: no shift (a study of one model
        and no other source). The source never imitates itself: it takes the next model."""
        if self.source is not None and self.source != model:
            return self.source
        if len(models) < 2:
            return None
        i = models.index(model)
        return models[(i + 1) % len(models)]

    def shifted(self, models: list[str]) -> list[str]:
        """The models that get a behaviour-shift finetune."""
        return [m for m in models if self.source_of(models, m) is not None]

    def sources(self, models: list[str]) -> list[str]:
        """Every model whose answers some shift imitates, in first-use order."""
        return list(dict.fromkeys(self.source_of(models, m) for m in self.shifted(models)))


def shift_source(models: list[str], model: str, shift: ShiftPlan | None = None) -> str:
    """Whose object-level answers the behaviour-shift finetune of ``model`` imitates: by
    default the next model in the list (cyclically), so the new behaviour differs from the
    model's own; ``shift.source`` when one is named."""
    source = (shift or ShiftPlan()).source_of(models, model)
    if source is None:
        raise ValueError(f"{model!r} has no behaviour shift: a study of one model needs "
                         "shift.source")
    return source


@dataclass(frozen=True)
class Comparison:
    """Everything scored against one target model ``target`` (M1)."""

    target: str
    untrained: str          # M1 predicting its untrained self
    self_trained: str       # M1__self predicting itself
    cross: dict[str, str]   # M2 name -> agent M2__cross__M1
    shift: str | None       # M1__shift, or None with a single model


def comparisons(models: list[str], shift: ShiftPlan | None = None) -> list[Comparison]:
    """One comparison per model: self vs every other model as cross-predictor (all ordered
    pairs); behaviour shift only when there is another model to imitate."""
    shifted = (shift or ShiftPlan()).shifted(models)
    out = []
    for m in models:
        cross = {b: Agent(b, "cross", m).name for b in models if b != m}
        shift_agent = Agent(m, "shift").name if m in shifted else None
        out.append(Comparison(m, m, Agent(m, "self").name, cross, shift_agent))
    return out


def finetuned_agents(models: list[str], shift: ShiftPlan | None = None) -> list[Agent]:
    agents = [Agent(m, "self") for m in models]
    agents += [Agent(b, "cross", a) for a, b in permutations(models, 2)]
    agents += [Agent(m, "shift") for m in (shift or ShiftPlan()).shifted(models)]
    return agents


def hypothetical_agents(models: list[str], shift: ShiftPlan | None = None) -> list[str]:
    """Agents whose hypothetical answers on held-out tasks are needed."""
    return [m for m in models] + [a.name for a in finetuned_agents(models, shift)]


def object_needs(models: list[str], shift: ShiftPlan | None = None) -> list[tuple[str, str]]:
    """(agent, split) pairs whose object-level answers are needed.

    - base on train: labels for its self-prediction finetune (and shift data of another model);
    - base on test: target for the untrained comparison;
    - self on train: labels for cross-prediction finetunes; self on test: the main target;
    - shift on test: the new behaviour;
    - a shift source on the items it answers for the shift (``shift.split``), where it has
      no such answers already.
    """
    plan = shift or ShiftPlan()
    shifted = plan.shifted(models)
    needs = []
    for m in models:
        needs += [(m, "train"), (m, "test"), (f"{m}{SEP}self", "test")]
        if len(models) > 1:
            needs += [(f"{m}{SEP}self", "train")]
        if m in shifted:
            needs += [(f"{m}{SEP}shift", "test")]
    for source in plan.sources(models):
        if (source, plan.split) not in needs:
            needs.append((source, plan.split))
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


def sft_needs(models: list[str], shift: ShiftPlan | None = None) -> list[tuple[str, str]]:
    """(kind, model) of every finetuning example file: self data and replayed answers per
    model; with more than one model, cross data per target; shift data per shifted model."""
    needs = [("self", m) for m in models] + [("replay", m) for m in models]
    if len(models) > 1:
        needs += [("cross", m) for m in models]
    needs += [("shift", m) for m in (shift or ShiftPlan()).shifted(models)]
    return needs


def extra_splits(shift: ShiftPlan | None = None, variant: bool = False) -> list[str]:
    """Item sets beyond train and test: ``shift`` (the shift source's new prompts) and
    ``calibration`` (the calibration variant's prompts)."""
    return ((["shift"] if (shift or ShiftPlan()).split == "shift" else [])
            + (["calibration"] if variant else []))


def variant_files(models: list[str]) -> list[str]:
    """The calibration variant's samples: object level of its targets, hypothetical level of
    its predictors (the agents of ``calibration_agents``)."""
    objects, hypos = calibration_agents(models)
    return ([variant_path(a, "object") for a in objects]
            + [variant_path(a, "hypothetical") for a in hypos])


def study_files(models: list[str], shift: ShiftPlan | None = None,
                variant: bool = False) -> list[str]:
    """Every output of a complete study: the Snakefile's default target, and exactly what the
    DVC outs hold (adapters, tables and figures are folders). ``shift``: where the shift's
    answers come from; ``variant``: whether the calibration variant runs."""
    objects, hypos = calibration_agents(models)
    finetuned = finetuned_agents(models, shift)
    return ([items_path(s) for s in ("train", "test", *extra_splits(shift, variant))]
            + [sft_path(kind, m) for kind, m in sft_needs(models, shift)]
            + [object_path(a, s) for a, s in object_needs(models, shift)]
            + [hypo_path(a) for a in hypothetical_agents(models, shift)]
            + [p for a in finetuned for p in (train_path(a.name), val_path(a.name))]
            + [adapter_dir(a.name) for a in finetuned]
            + [object_dist_path(a) for a in objects]
            + [hypo_dist_path(a) for a in hypos]
            + (variant_files(models) if variant else [])
            + [loss_curve_path(a.name) for a in finetuned]
            + [METRICS, HEADLINE, TABLES, FIGURES, REPORT, LOSS_FIGURE, LOSS_PAGE]
            + [TRANSCRIPTS, TRANSCRIPTS_CSV, TRANSCRIPTS_PAGE])


def model_jobs(models: list[str], shift: ShiftPlan | None = None,
               variant: bool = False) -> list[tuple[str, str, str]]:
    """(rule, agent and split, benchmark file) of every model job of a study; the held-out
    answers of a calibrated agent come from the fused answers-and-samples rules."""
    objects, hypos = calibration_agents(models)
    variant_jobs = ([("variant_samples", f"{a} {level}",
                      BENCH_VARIANT.format(agent=a, level=level))
                     for level, agents in (("object", objects), ("hypothetical", hypos))
                     for a in agents] if variant else [])
    return ([("object_answers_and_samples" if s == "test" and a in objects else "object_answers",
              f"{a} {s}", BENCH_OBJECT.format(agent=a, split=s))
             for a, s in object_needs(models, shift)]
            + [("hypothetical_answers_and_samples" if a in hypos else "hypothetical_answers", a,
                BENCH_HYPO.format(agent=a)) for a in hypothetical_agents(models, shift)]
            + variant_jobs
            + [("finetune_shift" if a.kind == "shift" else "finetune", a.name,
                BENCH_FINETUNE.format(agent=a.name)) for a in finetuned_agents(models, shift)])


# --- optional branches -------------------------------------------------------------------------
# cross.scaling: cross-predictors trained on nested shares of the cross-prediction examples;
# tasks.n_held_in_items: new prompts of the training tasks, answered and scored apart. Neither
# adds a file to a study that leaves them off, so the core functions above ignore them and
# the Snakefile adds ``branch_files`` and ``branch_model_jobs``.
SFT_SCALED = "data/sft/cross/{model}@{scale}.jsonl"  # a share of data/sft/cross/{model}.jsonl
HELD_IN = "heldin"  # the split of the held-in items (data/items/heldin.jsonl)
HYPO_HELD_IN = "results/hypothetical/{agent}/heldin.jsonl"
BENCH_HYPO_HELD_IN = "logs/benchmarks/hypothetical/{agent}_heldin.tsv"


def scale_label(share: float) -> str:
    """How a share of the cross data is written in agent names and paths: 0.5 -> "0.5"."""
    return f"{share:g}"


def scaled_sft_path(model: str, scale: str) -> str:
    return SFT_SCALED.format(model=model, scale=scale)


def hypo_held_in_path(agent: str) -> str:
    return HYPO_HELD_IN.format(agent=agent)


def scaled_cross_agents(models: list[str], scaling: Sequence[float]) -> list[Agent]:
    """``M2__cross__M1@k`` for every ordered pair (M1, M2) and every share k of
    ``cross.scaling``: finetuned and asked the held-out hypothetical questions, no
    calibration samples."""
    return [Agent(b, "cross", a, scale_label(k))
            for a, b in permutations(models, 2) for k in scaling]


def scaled_cross(models: list[str], scaling: Sequence[float]) -> dict[str, dict[str, dict]]:
    """target M1 -> cross predictor M2 -> share label -> agent name."""
    out: dict[str, dict[str, dict]] = {}
    for agent in scaled_cross_agents(models, scaling):
        out.setdefault(agent.target, {}).setdefault(agent.model, {})[agent.scale] = agent.name
    return out


def scaled_sft_files(models: list[str], scaling: Sequence[float]) -> list[str]:
    """One subset of each target's cross data per share (shared by its cross predictors)."""
    return list(dict.fromkeys(scaled_sft_path(a.target, a.scale)
                              for a in scaled_cross_agents(models, scaling)))


def held_in_object_agents(models: list[str]) -> list[str]:
    """Agents whose object-level answers to the held-in items are scored against: each model
    untrained and self-trained."""
    return [a for m in models for a in (m, Agent(m, "self").name)]


def held_in_hypothetical_agents(models: list[str]) -> list[str]:
    """Agents asked the held-in hypothetical questions: untrained, self and (regular) cross."""
    return (held_in_object_agents(models)
            + [Agent(b, "cross", a).name for a, b in permutations(models, 2)])


def held_in_files(models: list[str]) -> list[str]:
    """The held-in items and every answer to them."""
    return ([items_path(HELD_IN)]
            + [object_path(a, HELD_IN) for a in held_in_object_agents(models)]
            + [hypo_held_in_path(a) for a in held_in_hypothetical_agents(models)])


def branch_files(models: list[str], scaling: Sequence[float], held_in: bool) -> list[str]:
    """The optional branches' outputs, beside ``study_files``: the scaled cross agents' data,
    finetunes, loss curves and held-out answers; the held-in items and answers."""
    scaled = [a.name for a in scaled_cross_agents(models, scaling)]
    return (scaled_sft_files(models, scaling)
            + [p for a in scaled for p in (train_path(a), val_path(a), adapter_dir(a),
                                           hypo_path(a), loss_curve_path(a))]
            + (held_in_files(models) if held_in else []))


def branch_model_jobs(models: list[str], scaling: Sequence[float],
                      held_in: bool) -> list[tuple[str, str, str]]:
    """The optional branches' model jobs, as ``model_jobs``."""
    scaled = [a.name for a in scaled_cross_agents(models, scaling)]
    jobs = ([("hypothetical_answers", a, BENCH_HYPO.format(agent=a)) for a in scaled]
            + [("finetune", a, BENCH_FINETUNE.format(agent=a)) for a in scaled])
    if held_in:
        jobs += ([("object_answers", f"{a} {HELD_IN}",
                   BENCH_OBJECT.format(agent=a, split=HELD_IN))
                  for a in held_in_object_agents(models)]
                 + [("hypothetical_answers_held_in", a, BENCH_HYPO_HELD_IN.format(agent=a))
                    for a in held_in_hypothetical_agents(models)])
    return jobs
