"""Reading ``params.yaml``: YAML with line numbers, validated, then typed (``Params``).

``load_params`` (``inward check-params``, ``inward run``) and ``check_config`` (the Snakefile,
at parse time) are the two ways in; both return the typed ``Params`` or raise ``ParamsError``
listing every problem, so a bad input stops Snakemake before it plans, deletes or runs anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inward.config.types import Params
from inward.config.validation import ParamsError, validate_params

__all__ = ["ParamsError", "check_config", "key_lines", "load_params", "read_yaml"]


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


def load_params(path: str | Path = "params.yaml", *, check_inputs: bool = True) -> Params:
    """Read, validate and type a params file."""
    params, text = read_yaml(path)
    return validate_params(params, str(path), check_inputs=check_inputs, lines=key_lines(text))


def check_config(config: dict, path: str | Path = "params.yaml") -> Params:
    """The Snakefile's check: the config Snakemake assembled (params file plus any --config),
    with line numbers taken from ``path``."""
    text = Path(path).read_text(encoding="utf-8") if Path(path).is_file() else ""
    return validate_params(config, str(path), lines=key_lines(text))
