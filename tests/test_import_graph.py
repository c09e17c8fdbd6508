"""No import cycles between inward's modules, counting imports inside functions too: a module
that needs another only lazily still depends on it."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "inward"


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports(path: Path, known: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in known}
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    known = set(files)
    return {m: imports(p, known) - {m} for m, p in files.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, state, stack = [], {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == "open":
                found.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n)
        stack.pop()
        state[m] = "done"

    for m in sorted(edges):
        if m not in state:
            visit(m)
    return found


def test_the_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]


def test_inward_has_no_import_cycles():
    edges = graph()
    assert "inward.tasks.properties" in edges and "inward.serve.cli" in edges
    assert cycles(edges) == []


# --- layers ------------------------------------------------------------------------------------
# What each subpackage may import (lazily too), lowest layers first. A package may always import
# its own modules. ``pipeline`` glues everything for Snakemake and DVC; nothing below it imports
# it, and ``cli`` sits on top of all.
LAYERS = {
    "records": set(),
    "study": set(),
    "tasks": {"records"},
    "models": {"records"},
    "config": {"records", "study", "tasks", "models"},
    "scoring": {"records", "study", "tasks", "config"},
    "backends": {"records", "models", "config"},
    "sft": {"records", "study", "tasks", "config", "scoring"},
    "reporting": {"records", "study", "tasks", "config", "scoring"},
    "serve": {"records", "models", "config", "backends"},
    "pipeline": {"records", "study", "tasks", "models", "config", "scoring", "backends", "sft",
                 "reporting"},
    "cli": {"config", "pipeline", "serve"},
}


def package_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_subpackage_has_a_layer_and_the_top_level_is_small():
    top = sorted(p.stem for p in SRC.glob("*.py"))
    assert top == ["__init__", "cli"] or top == ["__init__", "__main__", "cli"], top
    packages = sorted(p.parent.name for p in SRC.glob("*/__init__.py"))
    assert packages and set(packages) | {"cli"} == set(LAYERS), packages


def test_the_layers_hold():
    edges = graph()
    wrong = sorted((m, n) for m, targets in edges.items() for n in targets
                   if package_of(m) and package_of(n) and package_of(n) != package_of(m)
                   and package_of(n) not in LAYERS[package_of(m)])
    assert wrong == []


def test_the_layer_check_sees_every_import():
    """Relative imports would escape ``graph``: there are none."""
    relative = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                for node in ast.walk(ast.parse(p.read_text()))
                if isinstance(node, ast.ImportFrom) and node.level]
    assert relative == []
    assert package_of("inward.scoring.metrics") == "scoring" and package_of("inward") is None
