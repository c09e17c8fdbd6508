"""Load and validate ``params.yaml`` before anything runs.

Three layers: the JSON schema (types, ranges, unknown keys at every level), the registries
(task, property and embedded-model names), and ``inward.config.preflight`` (task files, model
directories, API-key variables, how many items a task can make). Every problem is reported at
once, each line naming the file, the line in it where there is one, the key and, where there is
a fixed set, the allowed values. ``inward check-params`` and the Snakefile run the same checks,
so a bad input stops Snakemake before it plans, deletes or runs anything.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ParamsError(ValueError):
    """params.yaml is invalid; the message lists every problem found."""


def _schema() -> dict:
    text = resources.files("inward.config").joinpath("params.schema.yaml").read_text()
    return yaml.safe_load(text)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def key_lines(text: str) -> dict[tuple, int]:
    """Line number (1-based) of every key and list entry of a YAML document, by key path."""
    lines: dict[tuple, int] = {}

    def walk(node, path):
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                lines[(*path, k.value)] = k.start_mark.line + 1
                walk(v, (*path, k.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                lines[(*path, i)] = v.start_mark.line + 1
                walk(v, (*path, i))

    try:
        walk(yaml.compose(text), ())
    except yaml.YAMLError:
        pass
    return lines


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


def _registry_problems(params: dict) -> list[str]:
    from inward.config import placement
    from inward.models import embedded as model_registry
    from inward.tasks import catalog, properties, task_files

    problems = []
    extra = set(params["tasks"].get("files") or {})
    try:  # a paper-release entry provides the tasks found in it
        extra = set(task_files.sources(params["tasks"]))
    except (ValueError, OSError, UnicodeDecodeError):
        pass  # a missing or unreadable file is reported by inward.config.preflight
    known_tasks = sorted(set(catalog.TASKS) | extra)
    for split in ("train", "test"):
        for i, name in enumerate(params["tasks"][split]):
            if name not in known_tasks:
                problems.append(f"tasks.{split}[{i}]: unknown task {name!r}; "
                                f"allowed: {', '.join(known_tasks)}")
    both = set(params["tasks"]["train"]) & set(params["tasks"]["test"])
    if both:
        problems.append(f"tasks: {sorted(both)} listed as both train and test tasks; a held-out "
                        "task must not be trained on")
    for i, name in enumerate(params["tasks"]["properties"]):
        if name not in properties.PROPERTIES:
            problems.append(f"tasks.properties[{i}]: unknown property {name!r}; "
                            f"allowed: {', '.join(sorted(properties.PROPERTIES))}")
    for name, cfg in params["models"].items():
        if "__" in name:
            problems.append(f"models.{name}: model names may not contain '__'")
        problems += placement.gpu_problems(name, cfg)
        source = cfg.get("source", "")
        if (cfg.get("backend") == "local" and source.startswith("embedded:")
                and source not in model_registry.EMBEDDED):
            problems.append(f"models.{name}.source: unknown embedded model {source!r}; "
                            f"allowed: {', '.join(model_registry.EMBEDDED)}")
    return problems


def validate_params(params: Any, source: str = "params.yaml", *, check_inputs: bool = True,
                    lines: dict[tuple, int] | None = None) -> dict:
    """Return ``params`` unchanged if valid, else raise ParamsError listing every problem.

    ``check_inputs`` adds the checks of ``inward.config.preflight`` (files, model directories,
    environment variables); ``lines`` (from ``key_lines``) puts line numbers into the messages.
    """
    if not isinstance(params, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level, got {type(params).__name__}")
    problems = _schema_problems(params, lines or {})
    if not problems:  # registry checks assume the shape is right
        problems = _registry_problems(params)
    if not problems and check_inputs:
        from inward.config import preflight

        problems = preflight.problems(params)
    if problems:
        raise ParamsError(f"{source} is invalid:\n  - " + "\n  - ".join(problems))
    return params


def read_yaml(path: str | Path) -> tuple[Any, str]:
    """(parsed document, text) of a YAML file; a syntax error names the line and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    try:
        return yaml.safe_load(text), text
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        what = getattr(err, "problem", None) or str(err)
        if mark is None:
            raise ParamsError(f"{path}: not valid YAML: {what}") from None
        line, col = mark.line + 1, mark.column + 1
        raise ParamsError(f"{path}:{line}:{col}: not valid YAML (line {line}, column {col}): "
                          f"{what}") from None


def load_params(path: str | Path = "params.yaml", *, check_inputs: bool = True) -> dict:
    """Read and validate a params file."""
    params, text = read_yaml(path)
    return validate_params(params, str(path), check_inputs=check_inputs, lines=key_lines(text))


def check_config(config: dict, path: str | Path = "params.yaml") -> dict:
    """The Snakefile's check: the config Snakemake assembled (params file plus any --config),
    with line numbers taken from ``path``."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else ""
    return validate_params(config, str(path), lines=key_lines(text))


def replay_weight(params: dict, model: str) -> float:
    """The loss weight of ``model``'s replayed object-level answers (in its self and cross
    finetunes): its own ``models.<name>.replay_weight``, else ``sft.replay_weight``, else 1.
    How strongly prediction examples pull a model's behaviour away differs from model to
    model, as the shift's learning rate does."""
    own = params["models"].get(model, {}).get("replay_weight")
    return float(own if own is not None else params["sft"].get("replay_weight", 1.0))


def finetune_hparams(params: dict, agent: str) -> dict:
    """LoRA hyper-parameters of a finetuned agent. Cross-prediction reuses the self finetune's
    values, as in the paper; the behaviour-shift finetune uses ``finetune.shift`` updated with
    the shifted model's own ``models.<name>.shift_finetune`` keys, since how strongly a given
    learning rate moves a model's behaviour (and how soon it loses the answer formats) differs
    from model to model."""
    from inward.study import layout

    parsed = layout.parse_agent(agent)
    if parsed.kind != "shift":
        return dict(params["finetune"]["self"])
    own = params["models"].get(parsed.model, {}).get("shift_finetune", {})
    return {**params["finetune"]["shift"], **own}
