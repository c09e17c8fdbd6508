"""Configuration is parsed once: below the boundary that reads params.yaml, no function takes a
configuration as a raw ``dict``, ``Mapping`` or ``Any``, or untyped."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "inward"
CONFIG_NAME = re.compile(r"(cfg|config)$|^(hparams|gen|calib|settings)$|^plot")
RAW = re.compile(r"\b(dict|Dict|Mapping|Any)\b")
# The boundary: the raw document Snakemake assembled, before it is validated and typed.
BOUNDARY = {"inward.config.loading.check_config"}


def raw_config_parameters() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            a = node.args
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                if arg is None or not CONFIG_NAME.search(arg.arg):
                    continue
                note = ast.unparse(arg.annotation) if arg.annotation else ""
                if not note or RAW.search(note):
                    found.append(f"{module}.{node.name}({arg.arg}: {note or 'untyped'})")
    return found


def test_the_checker_finds_a_raw_config_parameter(tmp_path, monkeypatch):
    pkg = tmp_path / "inward"
    pkg.mkdir()
    (pkg / "x.py").write_text("def f(model_cfg: dict, gen, plot_size: int, seed: int): ...\n")
    monkeypatch.setattr(__import__(__name__), "SRC", pkg)
    assert raw_config_parameters() == ["inward.x.f(model_cfg: dict)", "inward.x.f(gen: untyped)"]


def test_no_function_takes_a_raw_configuration():
    found = raw_config_parameters()
    boundary = [f for f in found if f.split("(")[0] in BOUNDARY]
    assert len(BOUNDARY) <= 3 and len(boundary) == len(BOUNDARY)
    assert [f for f in found if f.split("(")[0] not in BOUNDARY] == []
