"""The house rules, checked on the source: a pure core, and import contracts that cover it.

``lint-imports`` (run by .ci/run) checks the contracts in pyproject.toml; these tests
check what it cannot: that the core's forbidden list names every module outside the
core (a new module cannot slip past it), and that the core touches no file, process,
network, clock or environment variable through the standard library.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tests.conftest import PROJECT

PACKAGE = PROJECT / "src" / "ottodeploy"
# standard-library doors to the world that the core must not open
WORLD = {"os", "subprocess", "socket", "time", "shutil", "tempfile", "fcntl",
         "signal", "urllib", "http", "requests", "threading", "multiprocessing", "io",
         "doit", "invoke", "git", "yaml", "ruamel"}
WORLD_CALLS = {"open", "input", "print"}
WORLD_ATTRIBUTES = {"now", "utcnow", "today", "getenv", "environ"}  # clock and environment


def contracts() -> list[dict[str, object]]:
    data = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    return list(data["tool"]["importlinter"]["contracts"])


def top_level_modules() -> set[str]:
    out = set()
    for path in PACKAGE.iterdir():
        if path.name.startswith("_"):
            continue
        if path.suffix == ".py" or (path.is_dir() and (path / "__init__.py").exists()):
            out.add(f"ottodeploy.{path.stem}")
    return out


def test_the_core_contract_forbids_every_module_outside_the_core() -> None:
    (core,) = [c for c in contracts() if c.get("source_modules") == ["ottodeploy.core"]]
    forbidden = set(core["forbidden_modules"])  # type: ignore[call-overload]
    assert forbidden == top_level_modules() - {"ottodeploy.core"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "core").glob("*.py")), ids=lambda p: p.name)
def test_the_core_opens_no_door_to_the_world(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found += [f"line {getattr(node, 'lineno', 0)}: import {n}" for n in names
                  if n.split(".")[0] in WORLD or (n.startswith("ottodeploy")
                                                  and not n.startswith("ottodeploy.core"))]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in WORLD_CALLS:
            found.append(f"line {node.lineno}: {node.func.id}()")
        if isinstance(node, ast.Attribute) and node.attr in WORLD_ATTRIBUTES:
            found.append(f"line {node.lineno}: .{node.attr}")
    assert found == []
