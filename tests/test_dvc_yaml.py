"""dvc.yaml against the code: each stage's command, the modules it depends on, and what it writes.

DVC reruns a stage only when a declared dep changes, so a module a stage imports but does not list
would let a code change go unnoticed; and the paths a stage writes are declared once, in its
module's ``OUTS`` (built from :mod:`pipeline.config`), which must be exactly its outs here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from pipeline.__main__ import STAGES
from tests.conftest import ROOT

PIPELINE = ROOT / "pipeline"
ENTRY = (
    "pipeline/__init__.py",
    "pipeline/__main__.py",
)  # `python -m pipeline <stage>` runs these first
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def imported_modules(path: Path) -> set[str]:
    """The ``pipeline/*.py`` files that ``path`` imports, at any level (deferred imports included),
    except in a module ``__getattr__``: a lazy attribute (``pipeline.load``) imports only when asked for."""
    found = set()
    tree = ast.parse(path.read_text(), str(path))
    lazy = {
        id(n)
        for f in tree.body
        if isinstance(f, ast.FunctionDef) and f.name == "__getattr__"
        for n in ast.walk(f)
    }
    for node in ast.walk(tree):
        if id(node) in lazy:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if (
                parts[0] == "pipeline"
                and len(parts) > 1
                and (PIPELINE / f"{parts[1]}.py").is_file()
            ):
                found.add(f"pipeline/{parts[1]}.py")
    return found


def closure(start: set[str]) -> set[str]:
    seen, todo = set(), list(start)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(imported_modules(ROOT / module) - seen)
    return seen


def entry_modules(stage: str) -> set[str]:
    return closure({*ENTRY, f"pipeline/{STAGES[stage]}.py"})


def deps(stage: str) -> set[str]:
    return {str(d) for d in DVC_YAML[stage]["deps"]}


def outs(stage: str) -> set[str]:
    declared = [*DVC_YAML[stage].get("outs", []), *DVC_YAML[stage].get("metrics", [])]
    return {next(iter(o)) if isinstance(o, dict) else o for o in declared}


def test_every_stage_in_dvc_yaml_is_a_pipeline_stage_and_back():
    assert sorted(DVC_YAML) == sorted(STAGES)
    for stage, spec in DVC_YAML.items():
        assert spec["cmd"] == f"python -m pipeline {stage}", stage


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_deps_list_exactly_the_modules_the_stage_imports(stage):
    listed = {d for d in deps(stage) if d.startswith("pipeline/") and d.endswith(".py")}
    needed = entry_modules(stage)
    assert not needed - listed, f"{stage}: imports but does not list {sorted(needed - listed)}"
    assert not listed - needed, f"{stage}: lists but never imports {sorted(listed - needed)}"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_outs_are_the_paths_the_stage_module_declares(stage):
    import importlib

    module = importlib.import_module(f"pipeline.{STAGES[stage]}")
    assert outs(stage) == {str(p) for p in module.OUTS}


def test_the_import_scan_sees_deferred_imports(tmp_path):
    """The scan must find an import inside a function, or a deferred one would escape it."""
    assert "pipeline/schemas.py" in imported_modules(PIPELINE / "split.py")
    assert "pipeline/sample.py" in imported_modules(PIPELINE / "training.py")
    assert (
        imported_modules(PIPELINE / "__init__.py") == set()
    )  # its lazy `load` is not a stage's import
