"""Validate a parsed ``params.yaml`` and type it.

Three layers: the JSON schema (types, ranges, unknown keys at every level), the registries
(task, property and embedded-model names), and ``inward.config.preflight`` (task files, model
directories, API-key variables, how many items a task can make). Every problem is reported at
once, each line naming the file, the line in it where there is one, the key and, where there is
a fixed set, the allowed values. ``inward check-params`` and the Snakefile run the same checks,
so a bad input stops Snakemake before it plans, deletes or runs anything. The schema reads the
raw document; once its shape is right it is typed (``inward.config.types.Params``) and the
registry and input checks read the typed object.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import jsonschema
import yaml

from inward.config.types import Params


class ParamsError(ValueError):
    """params.yaml is invalid; the message lists every problem found."""


def _schema() -> dict:
    text = resources.files("inward.config").joinpath("params.schema.yaml").read_text()
    return yaml.safe_load(text)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _at(lines: dict[tuple, int], path) -> str:
    line = lines.get(tuple(path))
    return f"line {line}: " if line else ""


def _schema_problems(params: dict, lines: dict[tuple, int]) -> list[str]:
    validator = jsonschema.Draft202012Validator(_schema())
    problems = []
    for err in sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.path))):
        path = list(err.absolute_path)
        where = _key(path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            allowed = sorted(err.schema.get("properties", {}))
            for extra in sorted(set(err.instance) - set(allowed), key=str):
                problems.append(f"{_at(lines, [*path, extra])}{_key([*path, extra])}: unknown "
                                f"key; allowed keys: {', '.join(allowed)}")
        elif err.validator == "enum":
            problems.append(f"{_at(lines, path)}{where}: {err.instance!r} is not one of "
                            f"{err.validator_value}")
        else:
            problems.append(f"{_at(lines, path)}{where}: {err.message}")
    return problems


def _registry_problems(params: Params) -> list[str]:
    from inward.config import placement
    from inward.models import embedded
    from inward.tasks import catalog, properties, task_files

    problems = []
    extra = set(params.tasks.files)
    try:  # a paper-release entry provides the tasks found in it
        extra = set(task_files.sources(params.tasks.files))
    except (ValueError, OSError, UnicodeDecodeError):
        pass  # a missing or unreadable file is reported by inward.config.preflight
    known_tasks = sorted(set(catalog.TASKS) | extra)
    for split in ("train", "test"):
        for i, name in enumerate(params.tasks.split(split)):
            if name not in known_tasks:
                problems.append(f"tasks.{split}[{i}]: unknown task {name!r}; "
                                f"allowed: {', '.join(known_tasks)}")
    both = set(params.tasks.train) & set(params.tasks.test)
    if both:
        problems.append(f"tasks: {sorted(both)} listed as both train and test tasks; a held-out "
                        "task must not be trained on")
    for i, name in enumerate(params.tasks.properties):
        if name not in properties.PROPERTIES:
            problems.append(f"tasks.properties[{i}]: unknown property {name!r}; "
                            f"allowed: {', '.join(sorted(properties.PROPERTIES))}")
    for name, model in params.models.items():
        if "__" in name:
            problems.append(f"models.{name}: model names may not contain '__'")
        problems += placement.gpu_problems(name, model)
        problems += placement.device_map_problems(name, model)
        source = model.source or ""
        if (model.trains_locally and source.startswith("embedded:")
                and source not in embedded.EMBEDDED):
            problems.append(f"models.{name}.source: unknown embedded model {source!r}; "
                            f"allowed: {', '.join(embedded.EMBEDDED)}")
    return problems + _shift_and_variant_problems(params, known_tasks)


def _shift_and_variant_problems(params: Params, known_tasks: list[str]) -> list[str]:
    """``shift:``, ``calibration.variant`` and models that are not under study."""
    from inward.tasks import catalog, properties

    problems = []
    compared = params.under_study
    if not compared:
        problems.append("models: every model has under_study: false; at least one must be "
                        "compared")
    source = params.shift.source
    if source is not None and source not in params.models:
        problems.append(f"shift.source: unknown model {source!r}; allowed: "
                        f"{', '.join(params.models)}")
    for name, model in params.models.items():
        if not model.under_study and name != source:
            problems.append(f"models.{name}.under_study: false, but shift.source is "
                            f"{source!r}: a model that is not under study only answers as the "
                            "shift's source, so this one would do nothing")
    for i, task in enumerate(params.shift.tasks):
        if task not in known_tasks:
            problems.append(f"shift.tasks[{i}]: unknown task {task!r}; "
                            f"allowed: {', '.join(known_tasks)}")
    if params.shift.tasks and params.shift.n_answers < len(params.shift.tasks):
        problems.append(f"shift.n_answers: {params.shift.n_answers} answers cannot be dealt "
                        f"over {len(params.shift.tasks)} tasks; allowed: at least "
                        f"{len(params.shift.tasks)}")
    variant = params.calibration.variant
    if variant is not None:
        if variant.task not in known_tasks:
            problems.append(f"calibration.variant.task: unknown task {variant.task!r}; "
                            f"allowed: {', '.join(known_tasks)}")
        elif variant.property not in catalog.task_properties(variant.task):
            problems.append(f"calibration.variant.property: {variant.property!r} is not asked "
                            f"of task {variant.task!r}; allowed: "
                            f"{', '.join(catalog.task_properties(variant.task))}")
        if variant.property not in properties.PROPERTIES:
            problems.append(f"calibration.variant.property: unknown property "
                            f"{variant.property!r}; allowed: "
                            f"{', '.join(sorted(properties.PROPERTIES))}")
    return problems


def _branch_problems(params: Params) -> list[str]:
    """The optional branches: cross-data scaling shares and held-in items."""
    from inward.study.layout import scale_label

    problems = []
    labels: dict[str, float] = {}
    for i, k in enumerate(params.cross.scaling):
        if not 0 < k < 1:
            problems.append(f"cross.scaling[{i}]: {k!r} is out of range; allowed: fractions "
                            "0 < k < 1 of the cross-prediction examples (1 is the regular "
                            "M2__cross__M1 finetune; multiples above 1 would need more "
                            "training items, which inward does not generate)")
        elif scale_label(k) in labels:
            problems.append(f"cross.scaling[{i}]: {k!r} names the same finetune as "
                            f"{labels[scale_label(k)]!r} (@{scale_label(k)})")
        else:
            labels[scale_label(k)] = k
    if params.cross.scaling and len(params.under_study) < 2:
        problems.append("cross.scaling: needs at least two models under study (a cross "
                        "predictor and its target)")
    return problems


def validate_params(params: Any, source: str = "params.yaml", *, check_inputs: bool = True,
                    lines: dict[tuple, int] | None = None) -> Params:
    """``params`` typed (``Params``) if valid, else ParamsError listing every problem.

    ``check_inputs`` adds the checks of ``inward.config.preflight`` (files, model directories,
    environment variables); ``lines`` (from ``key_lines``) puts line numbers into the messages.
    """
    if not isinstance(params, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level, "
                          f"got {type(params).__name__}")
    problems = _schema_problems(params, lines or {})
    typed = None if problems else Params.from_params(params)
    if typed is not None:  # registry checks assume the shape is right
        problems = _registry_problems(typed) + _branch_problems(typed)
    if not problems and check_inputs:
        from inward.config import preflight

        problems = preflight.problems(typed)
    if problems:
        raise ParamsError(f"{source} is invalid:\n  - " + "\n  - ".join(problems))
    return typed
