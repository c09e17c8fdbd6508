"""The typed configuration: ``params.yaml`` parsed once into frozen objects.

``inward.config.validation`` checks the raw document (schema, registries, line numbers); then
``Params.from_params`` builds these objects and nothing below reads a raw dict again. Every
default lives here, in the field that holds it, with a one-line docstring.

Objects whose values are hashed into resume or cache keys (``ModelConfig``, ``LoraHparams``)
keep ``written``, the entry exactly as the user wrote it: keys then stay the same for the same
``params.yaml`` whatever defaults the code adds later, and a finished study resumes as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

from inward.tasks.catalog import DEFAULT_MAX_PROMPT_CHARS

Raw = Mapping[str, Any]
"""A section of params.yaml as parsed from YAML (validated before it is typed)."""

def _frozen(value: Any) -> Any:
    """Lists become tuples and mappings read-only, so a frozen object is frozen all through."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def plain(value: Any) -> Any:
    """The JSON-able form of a frozen value (tuples -> lists, read-only mappings -> dicts)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def _build(cls, raw: Raw, **extra):
    """``cls`` from a validated section: known keys become fields, the rest is a bug."""
    names = {f.name for f in fields(cls)}
    unknown = set(raw) - names
    if unknown:  # the schema refuses unknown keys first; this guards the schema and the type
        raise ValueError(f"{cls.__name__}: no field for {sorted(unknown)}")
    return cls(**{k: _frozen(v) for k, v in raw.items()}, **extra)


class _Section:
    """A section of params.yaml with no defaults of its own beyond its fields'."""

    @classmethod
    def from_params(cls, raw: Raw):
        return _build(cls, raw)


@dataclass(frozen=True)
class LoraHparams:
    """Hyper-parameters of one finetune (``finetune.self``, ``finetune.shift`` and a model's
    ``shift_finetune``); local LoRA reads all of them, a hosted finetune the first four."""

    learning_rate: float = 1e-3
    """Adam learning rate of the LoRA weights (local)."""
    epochs: int = 1
    """Passes over the training examples."""
    batch_size: int = 8
    """Examples per optimiser step (before gradient accumulation)."""
    learning_rate_multiplier: float | None = None
    """Hosted finetunes: the provider's learning-rate multiplier (None: its default)."""
    grad_accum: int = 1
    """Micro-batches accumulated per optimiser step."""
    lora_rank: int = 8
    """Rank r of the LoRA update matrices."""
    lora_alpha: float = 16
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA path during training."""
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    """Linear layers that get adapters."""
    max_steps: int | None = None
    """Stop after this many optimiser steps (None: run every epoch)."""
    max_length: int = 1024
    """Longest training example in tokens; longer ones are cut."""
    evaluations: int = 8
    """Validation-loss measurements, spread from before the first step to after the last."""
    lora_layers: float = 1.0
    """Share of the layers, from the top, that get adapters (0.5 saves a quarter of a step)."""
    gradient_checkpointing: bool = False
    """Local: recompute each layer's activations in the backward pass (8B+ models on a GPU)."""
    written: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The keys as written in params.yaml (hashed into a hosted finetune's job key)."""

    @classmethod
    def from_params(cls, raw: Raw | None) -> LoraHparams:
        raw = {k: v for k, v in (raw or {}).items() if v is not None}
        return _build(cls, raw, written=_frozen(raw))

    def updated(self, raw: Raw) -> LoraHparams:
        """These values with ``raw``'s keys written over them (a model's own shift values)."""
        return LoraHparams.from_params({**plain(self.written), **raw})


@dataclass(frozen=True)
class ModelConfig:
    """One entry of ``models:``: a local model (torch, LoRA) or a hosted one (OpenAI API)."""

    backend: str = "local"
    """Where answers and finetunes come from: a name of ``inward.backends.BACKENDS``."""
    name: str | None = None
    """Display name (default: the source or the hosted model id)."""
    batch_size: int = 64
    """Local: prompts per forward pass."""
    source: str | None = None
    """Local and served (its finetunes): ``embedded:<name>``, a model directory or a hub id."""
    device: str | None = None
    """Local: auto (None), cpu, mps, cuda or cuda:N."""
    gpus: int = 0
    """GPUs each job of this model asks the scheduler for (local and served models)."""
    dtype: str | None = None
    """Local: float32, bfloat16, float16 or auto (None: bf16 on CUDA, else float32)."""
    device_map: str | None = None
    """Local and served: accelerate's layer placement over GPUs (auto, balanced, ...; None:
    the whole model on ``device``)."""
    chat_format: str | None = None
    """Local: the prompt layout (None: the model's own, from its registry entry)."""
    shift_finetune: Mapping[str, Any] = field(default_factory=dict)
    """This model's own ``finetune.shift`` values."""
    replay_weight: float | None = None
    """This model's own ``sft.replay_weight`` (None: the study's)."""
    model: str | None = None
    """Hosted and served: the model id the server answers to."""
    base_url: str | None = None
    """Hosted: the API's base URL when ``base_url_env`` is not set."""
    base_url_env: str = "OPENAI_BASE_URL"
    """Hosted: the environment variable holding the base URL."""
    api_key_env: str = "OPENAI_API_KEY"
    """Hosted: the environment variable holding the API key (never the key itself)."""
    concurrency: int = 8
    """Hosted: requests in flight at once per job."""
    mode_of_n: int = 1
    """Hosted: answers per prompt whose mode is the answer (1: one greedy answer)."""
    max_tokens_param: str = "max_tokens"
    """Hosted: the request's name for the answer length (or max_completion_tokens)."""
    timeout: float = 60.0
    """Hosted: seconds before a request is abandoned and retried."""
    max_retries: int = 6
    """Hosted: retries of a failed request (429, 5xx, timeouts) before the job fails."""
    retry_base_delay: float = 1.0
    """Hosted: first backoff delay in seconds (doubled each retry, with jitter)."""
    retry_max_delay: float = 60.0
    """Hosted: longest backoff delay in seconds."""
    poll_interval: float = 10.0
    """Hosted finetunes: seconds between status polls."""
    suffix: str | None = None
    """Hosted finetunes: the suffix of the finetuned model's name."""
    send_extra_hparams: bool | None = None
    """Hosted finetunes: send LoRA values the provider lacks (None: to a loopback server only)."""
    cache: bool = True
    """Hosted: keep every answer in the persistent response cache."""
    cache_dir: str | None = None
    """Hosted: the cache folder (None: $INWARD_CACHE or ~/.cache/inward)."""
    price_per_1k_input: float = 0.0
    """Hosted: USD per 1,000 prompt tokens, for the usage records."""
    price_per_1k_output: float = 0.0
    """Hosted: USD per 1,000 answer tokens, for the usage records."""
    under_study: bool = True
    """False: the model is not compared (no finetunes); it only answers, as ``shift.source``."""
    written: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The entry as written in params.yaml (hashed into resume keys)."""

    @classmethod
    def from_params(cls, raw: Raw) -> ModelConfig:
        return _build(cls, raw, written=_frozen(raw))

    def with_values(self, **values: Any) -> ModelConfig:
        """A copy with some fields changed (``written`` follows, so keys see the change)."""
        return ModelConfig.from_params({**plain(self.written), **values})

    @property
    def label(self) -> str:
        """What the model is called in logs and reports."""
        return self.name or self.source or self.model or self.backend

    @property
    def is_local(self) -> bool:
        return self.backend == "local"

    @property
    def trains_locally(self) -> bool:
        """Whether its finetunes run here on ``source`` (local and served models)."""
        return self.backend in ("local", "served")

    @property
    def gpu_request(self) -> int:
        """GPUs one job of this model asks for: hosted models compute elsewhere; a served
        model's finetunes run here."""
        return self.gpus if self.trains_locally else 0


@dataclass(frozen=True)
class TasksConfig(_Section):
    """``tasks:``: which tasks are trained on and held out, and how many items each gets."""

    train: tuple[str, ...]
    """Training tasks (their items make the finetuning labels)."""
    test: tuple[str, ...]
    """Held-out tasks (their items are scored)."""
    n_train_items: int
    """Items per training task."""
    n_test_items: int
    """Items per held-out task."""
    properties: tuple[str, ...]
    """Behaviour properties asked about, where a task has them."""
    files: Mapping[str, Any] = field(default_factory=dict)
    """Tasks from files: name -> path, or {path, format} (jsonl, paper, auto)."""
    max_prompt_chars: int = DEFAULT_MAX_PROMPT_CHARS
    """Longest prompt a task file may hold; a longer one is refused before any run."""
    n_held_in_items: int = 0
    """Held-in items per built-in training task: new prompts of a trained task, scored apart
    from the held-out tasks (0: none)."""

    def split(self, split: str) -> tuple[str, ...]:
        """The tasks of ``train`` or ``test``."""
        return {"train": self.train, "test": self.test}[split]

    def n_items(self, split: str) -> int:
        return {"train": self.n_train_items, "test": self.n_test_items}[split]


@dataclass(frozen=True)
class GenerationConfig(_Section):
    """``generation:``: how answers are generated (greedy at both levels)."""

    object_max_new_tokens: int
    """Longest object-level answer in tokens."""
    hypothetical_max_new_tokens: int
    """Longest hypothetical answer in tokens."""
    batch_size: int
    """Prompts per model call, and per resume checkpoint."""
    demonstration: bool
    """One worked exchange of the task's kind before each object-level question."""


@dataclass(frozen=True)
class SftConfig(_Section):
    """``sft:``: what each finetune's examples are made of."""

    cap_per_group: int
    """Prediction examples per (task, property)."""
    replay_per_task: int
    """The trainee's own object-level answers replayed per training task."""
    shift_per_task: int
    """Another model's object-level answers per training task (the behaviour shift)."""
    validation_fraction: float
    """Share of each finetune's examples held out for its validation loss."""
    replay_weight: float = 1.0
    """Loss weight of each replayed answer (1: as a prediction example)."""
    shift_anchors: int = 0
    """Questions about a quoted text per text property, mixed into the shift data."""


@dataclass(frozen=True)
class FinetuneConfig:
    """``finetune:``: self (and cross, same values) and behaviour-shift hyper-parameters."""

    self: LoraHparams
    """Self- and cross-prediction finetunes (the paper's "same hyper-parameters")."""
    shift: LoraHparams
    """The behaviour-shift finetune (updated by a model's own ``shift_finetune``)."""


@dataclass(frozen=True)
class CalibrationVariant(_Section):
    """``calibration.variant``: the paper's calibration protocol
    (``side_experiments/19_sep_calibration_main_fig.py``): one prompt variant and one property,
    its own items, and each sample an object call paired with a hypothetical call."""

    task: str = "next_animal"
    """The task whose prompts are asked (the paper: the next single animal)."""
    property: str = "second_character"
    """The one property asked about (the paper: the second character)."""
    n_items: int = 500
    """Prompts of the task, none of them used elsewhere in the study (the paper: 500)."""


@dataclass(frozen=True)
class CalibrationConfig:
    """``calibration:``: the sampled distributions behind the calibration MAD."""

    n_samples: int
    """Sampled answers per prompt, at the object and the hypothetical level."""
    temperature: float
    """Sampling temperature of both levels."""
    top_k: int
    """Object-level behaviours per prompt pooled into the MAD."""
    n_bins: int
    """Equal-frequency bins on the object-level probability."""
    variant: CalibrationVariant | None = None
    """The paper's paired single-variant protocol beside the pooled MAD (None: off)."""

    @classmethod
    def from_params(cls, raw: Raw) -> CalibrationConfig:
        variant = raw.get("variant")
        rest = {k: v for k, v in raw.items() if k != "variant"}
        return _build(cls, rest, variant=(CalibrationVariant.from_params(variant)
                                          if variant is not None else None))


@dataclass(frozen=True)
class ShiftConfig(_Section):
    """``shift:``: whose behaviour the behaviour-shift finetune imitates, and on which prompts.
    The defaults are inward's laptop protocol; the paper's (``shift.source`` an outside model,
    ``shift.tasks`` the held-out task kinds, 1,000 answers) is a matter of values."""

    source: str | None = None
    """The model (a key of ``models:``) whose object-level answers M1__self is continued on.
    None: the next model under study, cyclically. The source itself, when under study, is
    shifted to the next model, as without a source."""
    tasks: tuple[str, ...] = ()
    """Tasks whose new prompts (none used elsewhere in the study) the source answers. Empty:
    the training items, ``sft.shift_per_task`` answers per training task."""
    n_answers: int = 1000
    """With ``tasks``: the source's answers in all, dealt evenly over the tasks."""

    @property
    def on_new_prompts(self) -> bool:
        """Whether the source answers prompts of their own (the ``shift`` items)."""
        return bool(self.tasks)

    def per_task(self) -> dict[str, int]:
        """Prompts per shift task: ``n_answers`` dealt evenly, the first tasks one more."""
        k = len(self.tasks)
        return {t: self.n_answers // k + (1 if i < self.n_answers % k else 0)
                for i, t in enumerate(self.tasks)} if k else {}


@dataclass(frozen=True)
class MetricsConfig(_Section):
    """``metrics:``: how answers are read and how uncertain the numbers are."""

    n_boot: int
    """Item-level bootstrap resamples of every CI."""
    rules: str = "paper"
    """Rule set reading every answer: paper (the official rules) or lenient."""


@dataclass(frozen=True)
class CrossConfig(_Section):
    """``cross:``: extra cross-prediction finetunes (the data-scaling branch)."""

    scaling: tuple[float, ...] = ()
    """Shares (0 < k < 1) of the cross-prediction examples: each trains its own
    ``M2__cross__M1@k`` on a nested, seeded subset (empty: no scaling branch)."""


@dataclass(frozen=True)
class PlotsConfig(_Section):
    """``plots:``: figure sizes."""

    width: int
    """Width of a bar chart in pixels."""
    height: int
    """Height of a chart in pixels."""
    scale: float
    """PNG scale factor."""


@dataclass(frozen=True)
class Params:
    """The whole of a validated ``params.yaml``."""

    seed: int
    """``base.seed``: every random choice derives from it."""
    models: Mapping[str, ModelConfig]
    """Models under study, by name, in the file's order."""
    tasks: TasksConfig
    generation: GenerationConfig
    sft: SftConfig
    finetune: FinetuneConfig
    calibration: CalibrationConfig
    metrics: MetricsConfig
    plots: PlotsConfig
    cross: CrossConfig = CrossConfig()
    """``cross:`` (optional section): the cross-prediction data-scaling branch."""
    shift: ShiftConfig = ShiftConfig()
    """``shift:`` (optional section): the behaviour shift's source model and prompts."""

    @classmethod
    def from_params(cls, raw: Raw) -> Params:
        """The typed form of a params document that ``validate_params`` accepted."""
        return cls(
            seed=raw["base"]["seed"],
            models=MappingProxyType({name: ModelConfig.from_params(entry)
                                     for name, entry in raw["models"].items()}),
            tasks=TasksConfig.from_params(raw["tasks"]),
            generation=GenerationConfig.from_params(raw["generation"]),
            sft=SftConfig.from_params(raw["sft"]),
            finetune=FinetuneConfig(self=LoraHparams.from_params(raw["finetune"]["self"]),
                                    shift=LoraHparams.from_params(raw["finetune"]["shift"])),
            calibration=CalibrationConfig.from_params(raw["calibration"]),
            metrics=MetricsConfig.from_params(raw["metrics"]),
            plots=PlotsConfig.from_params(raw["plots"]),
            cross=CrossConfig.from_params(raw.get("cross") or {}),
            shift=ShiftConfig.from_params(raw.get("shift") or {}),
        )

    def extra_split(self, split: str) -> tuple[dict[str, int], dict[str, int]]:
        """(prompts per task, prompts of the task the study's other splits take first) of
        the ``shift`` or ``calibration`` items: each comes after the training, held-in and
        held-out prompts of its task, and the calibration prompts after the shift's."""
        held_in = self.tasks.n_held_in_items

        def used(task: str) -> int:
            if task in self.tasks.train:
                return self.tasks.n_train_items + held_in
            return self.tasks.n_test_items if task in self.tasks.test else 0

        if split == "shift":
            counts = self.shift.per_task()
            return counts, {t: used(t) for t in counts}
        if split == "calibration" and self.calibration.variant is not None:
            v = self.calibration.variant
            before = used(v.task) + self.shift.per_task().get(v.task, 0)
            return {v.task: v.n_items}, {v.task: before}
        raise ValueError(f"no {split!r} items in this study; allowed: shift (with "
                         "shift.tasks), calibration (with calibration.variant)")

    @property
    def under_study(self) -> tuple[str, ...]:
        """The models compared (self, cross, shift), in the file's order: every model but those
        marked ``under_study: false`` (a shift source, say)."""
        return tuple(name for name, m in self.models.items() if m.under_study)

    def replay_weight(self, model: str) -> float:
        """The loss weight of ``model``'s replayed answers: its own ``replay_weight``, else
        ``sft.replay_weight``. How strongly prediction examples pull a model's behaviour away
        differs from model to model, as the shift's learning rate does."""
        own = self.models[model].replay_weight
        return float(own if own is not None else self.sft.replay_weight)

    def finetune_hparams(self, agent: str) -> LoraHparams:
        """LoRA hyper-parameters of a finetuned agent. Cross-prediction reuses the self
        finetune's values, as in the paper; the behaviour-shift finetune uses ``finetune.shift``
        updated with the shifted model's own ``shift_finetune`` keys, since how strongly a
        learning rate moves a model's behaviour differs from model to model."""
        from inward.study.layout import parse_agent

        parsed = parse_agent(agent)
        if parsed.kind != "shift":
            return self.finetune.self
        return self.finetune.shift.updated(self.models[parsed.model].shift_finetune)

