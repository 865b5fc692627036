"""The package's import graph: every import (function-level and ``params._package`` ones included) goes to
the same layer or one below it, in the order the data flows (CONTRIBUTING.md), and no two modules import
each other, directly or through others."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "automap_nb"

#: a module's layer: the first prefix that matches it (``""``: the package's ``__init__``)
LAYERS = [("checks", 0), ("results", 0), ("reference", 0), ("tables", 0), ("statistics", 0), ("evaluate", 0), ("data", 1),
          ("models", 2), ("distribute", 2), ("training", 3), ("baselines", 3), ("plan", 3), ("bench", 3), ("experiments", 4),
          ("figures", 4), ("findings", 4), ("orchestration", 5), ("__main__", 5), ("", 6)]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    return next(rank for prefix, rank in LAYERS if module == prefix or module.startswith(prefix + ".") or not prefix)


def imports(path: Path) -> set[str]:
    """The package modules ``path`` imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("automap_nb"):
            base = node.module.removeprefix("automap_nb").lstrip(".")
            for alias in node.names:
                name = f"{base}.{alias.name}".lstrip(".")
                where = PACKAGE / name.replace(".", "/")
                found.add(name if where.with_suffix(".py").exists() or where.is_dir() else base)
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("automap_nb").lstrip(".") for a in node.names if a.name.startswith("automap_nb")}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_package":
            found.add(node.args[0].value)
    return found - {""}


GRAPH = {module_name(p): imports(p) - {module_name(p)} for p in sorted(PACKAGE.rglob("*.py"))}


def test_no_import_climbs_a_layer():
    climbing = [f"{m} ({layer(m)}) imports {d} ({layer(d)})" for m, deps in GRAPH.items() for d in deps if layer(d) > layer(m)]
    assert not climbing, climbing
    assert all(d in GRAPH for deps in GRAPH.values() for d in deps), "an import the graph does not know"


def test_no_import_circle():

    def reaches(start: str, target: str, seen: set) -> bool:
        return any(d == target or (d not in seen and not seen.add(d) and reaches(d, target, seen)) for d in GRAPH.get(start, ()))

    circles = sorted(m for m in GRAPH if reaches(m, m, set()))
    assert not circles, f"modules on an import circle: {circles}"
