"""The package's shape: no import cycles, small modules, every drill a registered package with one
run loop — checked on the source, so a change that breaks the architecture fails a test."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from drills import catalog
from drills.pipeline import DrillSpec

PACKAGE = Path(__file__).resolve().parents[2] / "drills"
#: "No module over about 300 lines": the few that hold a whole component stay under this.
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the drills modules it imports, at any level (TYPE_CHECKING and inside functions too)."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
                targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


@pytest.mark.parametrize("spec", catalog.all_drills(), ids=lambda s: s.name)
def test_every_drill_is_a_package_whose_spec_is_registered(spec: DrillSpec[Any, Any]) -> None:
    # A framework's variant (timeout-ladder-flask) lives in its drill's package.
    folder = PACKAGE / "catalog" / spec.family_name.replace("-", "_")
    assert (folder / "__init__.py").is_file()
    assert catalog.get(spec.name) is spec
    assert spec.params.__module__.startswith(f"drills.catalog.{folder.name}.")
    assert {c.name for c in spec.configurations} == set(spec.params().selected_configurations())


def test_only_the_pipeline_opens_deployments() -> None:
    """The one run loop: no drill starts a stack or a target itself, or asks which one it holds."""
    for path in (PACKAGE / "catalog").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for forbidden in ("local_stack(", "RemoteDeployment", "open_deployment", "isinstance(deployment",
                          "LocalStack", "Findings(", "type: ignore[union-attr]"):
            assert forbidden not in text, f"{path.relative_to(PACKAGE)} uses {forbidden}"
