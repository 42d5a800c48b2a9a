"""The house rules: imports run one way, no module imports another that imports it back, modules
stay small, and parameter names are spelled in one place.

Imports are read by grimp (import-linter's graph), which counts imports inside functions and under
``TYPE_CHECKING`` too.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HBM = Path(__file__).resolve().parents[1] / "hbm"
#: The largest a module may grow (lines).
MAX_LINES = 400
#: The seed model's parameter names (DESIGN.md); as string literals in code they belong only to
#: the modules that define names: the naming contract and the normal family.
NAMES = {"mu", "tau", "sigma", "theta", "theta_z"}
NAMING_MODULES = {"core/names.py"}


def module_graph() -> dict[str, set[str]]:
    import grimp

    graph = grimp.build_graph("hbm", cache_dir=None)
    return {
        module: {m for m in graph.find_modules_directly_imported_by(module) if m.startswith("hbm")}
        for module in graph.modules
    }


def test_no_module_imports_one_that_imports_it_back():
    """No cycle at all between modules (Tarjan's strongly connected components)."""
    graph = module_graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []


def test_the_layers_contract_holds():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if lint is None:
        pytest.fail(
            "lint-imports is not installed: install the test extra (pip install -e .[test])"
        )
    run = subprocess.run([lint], capture_output=True, text=True, check=False, cwd=HBM.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 kept, 0 broken" in run.stdout


def test_no_module_is_over_400_lines():
    sizes = {str(p.relative_to(HBM)): len(p.read_text().splitlines()) for p in HBM.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def parameter_literals(path: Path) -> list[tuple[int, str]]:
    """String constants (not docstrings) that are exactly a parameter name."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in NAMES
        and id(node) not in docstrings
    ]


def test_parameter_names_are_spelled_in_the_naming_contract_only():
    """Every other module asks the parameter table for a role, or imports the name."""
    found = {
        str(p.relative_to(HBM)): parameter_literals(p)
        for p in HBM.rglob("*.py")
        if str(p.relative_to(HBM)) not in NAMING_MODULES
    }
    assert {name: hits for name, hits in found.items() if hits} == {}
    assert parameter_literals(HBM / "core" / "names.py")  # the check sees literals where they are
