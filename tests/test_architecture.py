"""The layering holds: every module imports on its own, domain/ never imports the GraphQL
layers, no module hides an import cycle in a function, and the composition root is a root."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.conftest import sqlite_pass_only

# Static checks of the code: the database of the pass does not matter.
pytestmark = sqlite_pass_only

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("domain", "schema", "resolvers", "web", "composition")
GRAPHQL_LAYERS = ("strawberry", "graphql", "schema", "resolvers", "web", "composition", "server")

# Imports inside functions that are lazy on purpose, with the reason. Anything else inside
# a function is an import cycle being dodged: fix the layering instead.
LAZY_IMPORTS_ALLOWED: dict[tuple[str, str], str] = {}


def _modules() -> list[str]:
    names = ["server"]
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _path(module: str) -> Path:
    base = ROOT.joinpath(*module.split("."))
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def _third_party(modules: list[str]) -> list[str]:
    """The modules the application imports that are not its own (submodules included:
    `from strawberry.relay import ...` loads more than `strawberry`)."""
    own = {*LAYERS, "server"}
    found = set()
    for module in modules:
        for node in ast.walk(ast.parse(_path(module).read_text(encoding="utf-8"))):
            found.update(name for name in _imported(node) if name.split(".")[0] not in own)
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and \
                    node.module.split(".")[0] not in own:  # `from package import submodule`
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return sorted(found - {"__future__"})


# Runs in one interpreter: imports the third-party libraries once, then forks one child per
# application module. Each child starts with none of Patron's modules loaded, so importing
# one there is exactly `python -c "import <module>"` for import cycles, at a fraction of
# the cost (strawberry, tortoise, numpy ... load once, not 140 times).
_FORK_IMPORTS = r"""
import importlib, os, sys, traceback
for name in sys.argv[2].split(","):
    try:
        importlib.import_module(name)
    except Exception:
        pass
failed = 0
for module in sys.argv[1].split(","):
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(module)
        except BaseException:
            sys.stdout.write("FAILED " + module + "\n" + traceback.format_exc()[-1500:] + "\n")
            sys.stdout.flush()
            os._exit(1)
        os._exit(0)
    failed |= os.waitpid(pid, 0)[1] != 0
sys.exit(1 if failed else 0)
"""


def _import_each_alone(modules: list[str], preload: list[str]) -> tuple[int, str]:
    # Settings are read at import in places: a throwaway SQLite URL and no Redis keep it local.
    env = {**os.environ, "DATABASE_URL": "sqlite://:memory:", "REDIS_URL": ""}
    done = subprocess.run([sys.executable, "-c", _FORK_IMPORTS, ",".join(modules), ",".join(preload)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr[-2000:]


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    # given every module of the application
    modules = _modules()
    assert len(modules) > 100
    # when each is imported first, with no other Patron module loaded (two interpreters in parallel)
    halves = [modules[0::2], modules[1::2]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(_import_each_alone, halves, [_third_party(modules)] * 2))
    # then none fails (an import cycle shows up as an ImportError in one of them)
    assert [output for code, output in results if code != 0] == []


def test_domain_never_imports_the_graphql_layers():
    offending = []
    for path in sorted((ROOT / "domain").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for name in _imported(node):
                if name.split(".")[0] in GRAPHQL_LAYERS:
                    offending.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert offending == []


def test_nothing_imports_the_composition_root_back():
    offending = []
    for module in _modules():
        if module.split(".")[0] == "composition" or module == "server":  # the app start uses the root
            continue
        tree = ast.parse(_path(module).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if any(name.split(".")[0] == "composition" for name in _imported(node)):
                offending.append(f"{module}:{node.lineno}")
    assert offending == []


class _FunctionImports(ast.NodeVisitor):
    """Imports inside a function or class body (module-level `if`/`try` blocks are fine)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int, list[str]]] = []
        self.scope: list[str] = []

    def _nested(self, node: ast.AST) -> None:
        self.scope.append(node.name)  # type: ignore[attr-defined]
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _nested

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if self.scope:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [f"{'.' * node.level}{node.module or ''}"]
            self.found.append((".".join(self.scope), node.lineno, names))

    visit_Import = visit_ImportFrom = _import


def test_no_function_local_imports_dodge_import_cycles():
    found = {}
    for module in _modules():
        visitor = _FunctionImports()
        visitor.visit(ast.parse(_path(module).read_text(encoding="utf-8")))
        for scope, line, names in visitor.found:
            if (module, scope) not in LAZY_IMPORTS_ALLOWED:
                found[f"{module}:{line} in {scope}"] = names
    assert found == {}


def test_transactions_open_in_domain_services_never_in_the_graphql_layers():
    # write_transaction (domain/db.py) is the one boundary; resolvers and types call services
    opening = {"write_transaction", "in_transaction", "serialized_writes", "atomic"}
    offending = []
    for layer in ("schema", "resolvers", "web", "composition"):
        for path in sorted((ROOT / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else \
                    None
                if name in opening:
                    offending.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert offending == []
