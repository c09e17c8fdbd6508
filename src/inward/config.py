"""Load and validate ``params.yaml`` before anything runs.

Two layers: the JSON schema (types, ranges, unknown keys) and the registries (task, property and
embedded-model names). Every problem is reported at once, each line naming the file, the key
and, where there is a fixed set, the allowed values.
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
    text = resources.files("inward").joinpath("schemas/params.schema.yaml").read_text()
    return yaml.safe_load(text)


def _key(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _schema_problems(params: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(_schema())
    problems = []
    for err in sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.path))):
        where = _key(err.absolute_path)
        if err.validator == "additionalProperties":
            allowed = sorted(err.schema.get("properties", {}))
            problems.append(f"{where}: {err.message}; allowed keys: {', '.join(allowed)}")
        elif err.validator == "enum":
            problems.append(f"{where}: {err.instance!r} is not one of {err.validator_value}")
        else:
            problems.append(f"{where}: {err.message}")
    return problems


def _registry_problems(params: dict) -> list[str]:
    from inward import models as model_registry
    from inward import properties, tasks

    problems = []
    extra = set(params["tasks"].get("files") or {})
    known_tasks = sorted(set(tasks.TASKS) | extra)
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
    for task_name, path in (params["tasks"].get("files") or {}).items():
        if not Path(path).is_file():
            problems.append(f"tasks.files.{task_name}: file {path!r} does not exist")
    for name, cfg in params["models"].items():
        if "__" in name:
            problems.append(f"models.{name}: model names may not contain '__'")
        source = cfg.get("source", "")
        if (cfg.get("backend") == "local" and source.startswith("embedded:")
                and source not in model_registry.EMBEDDED):
            problems.append(f"models.{name}.source: unknown embedded model {source!r}; "
                            f"allowed: {', '.join(model_registry.EMBEDDED)}")
    return problems


def validate_params(params: Any, source: str = "params.yaml") -> dict:
    """Return ``params`` unchanged if valid, else raise ParamsError listing every problem."""
    if not isinstance(params, dict):
        raise ParamsError(f"{source}: expected a mapping at the top level, got {type(params).__name__}")
    problems = _schema_problems(params)
    if not problems:  # registry checks assume the shape is right
        problems = _registry_problems(params)
    if problems:
        raise ParamsError(f"{source} is invalid:\n  - " + "\n  - ".join(problems))
    return params


def load_params(path: str | Path = "params.yaml") -> dict:
    """Read and validate a params file."""
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    return validate_params(params, str(path))
