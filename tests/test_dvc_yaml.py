"""dvc.yaml against the code: each stage's command, the modules it depends on, and what it writes.

DVC reruns a stage only when a declared dep changes, so a module a stage imports but does not list
would let a code change go unnoticed; and the paths a stage writes are declared once, in its
module's ``OUTS`` (built from :mod:`pipeline.core.config`), which must be exactly its outs here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from pipeline.__main__ import STAGES
from tests.helpers import ROOT

PIPELINE = ROOT / "pipeline"
# `python -m pipeline <stage>` runs these first
ENTRY = (
    "pipeline/__init__.py",
    "pipeline/__main__.py",
)
DVC_YAML = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def imported_modules(path: Path) -> set[str]:
    """The ``pipeline/**.py`` files that ``path`` imports, at any level (deferred imports included),
    with the ``__init__.py`` of each package on the way (``pipeline.core.config`` imports
    ``pipeline/core/__init__.py`` first), except in a module ``__getattr__``: a lazy attribute
    (``pipeline.load``) imports only when asked for. A string that names a pipeline module counts
    too (a forkserver preload, which the stage's forkserver imports), except in ``__main__.py``,
    whose table names every stage's module but runs only the one asked for."""
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
        assert not (isinstance(node, ast.ImportFrom) and node.level), f"{path}: relative import"
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"pipeline(\.\w+)+", node.value)
            and path.name != "__main__.py"
        ):
            names = [node.value]
        for name in names:
            found |= files_of(name)
    return found


def files_of(name: str) -> set[str]:
    """The files importing the dotted ``name`` runs, below ``pipeline/__init__.py``: each
    package's ``__init__.py`` on the way, then the module (``pipeline.core.config`` ->
    ``pipeline/core/__init__.py``, ``pipeline/core/config.py``); none for other packages."""
    parts, found = name.split("."), set()
    for depth in range(2, len(parts) + 1) if parts[0] == "pipeline" else ():
        where = ROOT.joinpath(*parts[:depth])
        if where.with_suffix(".py").is_file():
            found.add(where.with_suffix(".py").relative_to(ROOT).as_posix())
            # a module: what follows are its attributes
            break
        if not (where / "__init__.py").is_file():
            break
        found.add((where / "__init__.py").relative_to(ROOT).as_posix())
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
    return closure({*ENTRY, *files_of(STAGES[stage][0])})


def deps(stage: str) -> set[str]:
    return {str(d) for d in DVC_YAML[stage]["deps"]}


def outs(stage: str) -> set[str]:
    declared = [*DVC_YAML[stage].get("outs", []), *DVC_YAML[stage].get("metrics", [])]
    return {next(iter(o)) if isinstance(o, dict) else o for o in declared}


def test_every_stage_in_dvc_yaml_is_a_pipeline_stage_and_back():
    assert sorted(DVC_YAML) == sorted(STAGES)
    for stage, spec in DVC_YAML.items():
        # python3: on Debian and Ubuntu, without .venv activated, there is no `python`; exec: the
        # shell DVC runs it through is then the stage itself, which Ctrl-C cannot end before the
        # stage has cleaned up (docs/environment.md, docs/faults.md)
        assert spec["cmd"] == f"exec python3 -m pipeline {stage}", stage


def modules_in(directory: str) -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / directory).rglob("*.py")}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_deps_list_exactly_the_modules_the_stage_imports(stage):
    """Each imported module is listed, as a file or inside a listed directory; nothing else is.

    A directory dep is allowed only when the stage imports every module in it (its
    ``__main__.py``, the same stage's ``python -m`` entry, aside): then a change to any file in
    it reruns the stage, as listing the files would, in one line of dvc.lock instead of several
    (each line costs every `dvc repro`, ~1.2 s over fetch..pickle when measured)."""
    code = {d for d in deps(stage) if d.startswith("pipeline/")}
    dirs = {d for d in code if (ROOT / d).is_dir()}
    files = {d for d in code - dirs if d.endswith(".py")}
    needed = entry_modules(stage)
    covered = files | {m for d in dirs for m in modules_in(d)}
    assert not needed - covered, f"{stage}: imports but does not list {sorted(needed - covered)}"
    assert not files - needed, f"{stage}: lists but never imports {sorted(files - needed)}"
    for d in dirs:
        unused = {m for m in modules_in(d) - needed if not m.endswith("/__main__.py")}
        assert not unused, f"{stage}: lists {d}/, but never imports {sorted(unused)}: list files"
        inside = {f for f in files if f.startswith(f"{d}/")}
        assert not inside, f"{stage}: lists {sorted(inside)} and their directory {d}"


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_outs_are_the_paths_the_stage_module_declares(stage):
    import importlib

    module = importlib.import_module(STAGES[stage][0])
    assert outs(stage) == {str(p) for p in module.OUTS}


def test_the_import_scan_sees_deferred_imports(tmp_path):
    """The scan must find an import inside a function, or a deferred one would escape it."""
    assert "pipeline/schemas.py" in imported_modules(PIPELINE / "split.py")
    # a package's __init__ comes with any module imported from it
    assert {"pipeline/core/__init__.py", "pipeline/core/config.py"} <= imported_modules(
        PIPELINE / "fetch.py"
    )
    # its lazy `load` is not a stage's import
    assert imported_modules(PIPELINE / "__init__.py") == set()


def test_the_params_stage_runs_first_and_alone_tracks_params_yaml_whole():
    # a typo beside the real keys (`sed: 7`) changes no tracked key: the params stage reruns and
    # refuses it. No other stage tracks the file, so a count change no longer reruns fetch; and
    # DVC runs unrelated stages in dvc.yaml's order, so params is checked before any stage writes
    assert list(DVC_YAML)[0] == "params"
    assert "params.yaml" in DVC_YAML["params"]["deps"] and not DVC_YAML["params"].get("outs")
    assert all(
        "params.yaml" not in stage["deps"] for name, stage in DVC_YAML.items() if name != "params"
    )


@pytest.mark.parametrize("stage", ["benchmark_sweep", "benchmark"])
def test_the_benchmark_depends_on_the_algorithm_not_on_the_stages_io_or_the_contract(stage):
    """An edit to a data stage's reading or writing (its main()), or to a contract message, must not
    rerun the 80-fit sweep or the benchmark: they use pipeline/algorithm.py's pure functions."""
    stage_modules = {
        f"pipeline/{m.split('.')[1]}.py" for m, _ in STAGES.values() if m.count(".") == 1
    }
    assert "pipeline/algorithm.py" in entry_modules(stage)
    assert not (stage_modules | {"pipeline/schemas.py"}) & entry_modules(stage)


# ---- params: what a stage reads, dvc.yaml tracks ------------------------------------------------

# params.yaml's keys behind each resolved field of pipeline.core.params.Params: the per-digit counts
# are resolved from `*_per_class` and the `*_counts` overrides.
RESOLVED_FROM = {
    "sample.train_counts": {"sample.train_per_class", "sample.train_counts"},
    "sample.test_counts": {"sample.test_per_class", "sample.test_counts"},
}
EVERY_PARAM = {"seed", "sample", "benchmark"}


def params_read(path: Path) -> set[str]:
    """The params.yaml keys ``path`` reads through the ``Params`` that ``params.load()`` returns:
    ``p.seed`` -> ``seed``, ``p.sample.test_counts`` -> both keys it is resolved from,
    ``p.benchmark`` (or any field of it) -> ``benchmark``; ``p`` handed on whole -> every key."""
    tree = ast.parse(path.read_text(), str(path))
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = set()
    for func in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
        names = {
            target.id
            for node in ast.walk(func)
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and ast.unparse(node.value.func) == "params.load"
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(func):
            loaded = isinstance(node, ast.Call) and ast.unparse(node.func) == "params.load"
            if loaded and isinstance(parents[id(node)], (ast.Assign, ast.Expr)):
                # bound to a name (followed below), or only checked
                continue
            if not loaded and not (
                isinstance(node, ast.Name) and node.id in names and isinstance(node.ctx, ast.Load)
            ):
                continue
            chain, at = [], node
            while isinstance(parents.get(id(at)), ast.Attribute) and len(chain) < 2:
                at = parents[id(at)]
                chain.append(at.attr)
            if not chain:
                # handed on whole: whatever the callee reads
                found |= EVERY_PARAM
            elif chain[0] in ("seed", "benchmark"):
                found.add(chain[0])
            else:
                key = ".".join(chain)
                found |= RESOLVED_FROM.get(key, {key})
    return found


def tracked_params(stage: str) -> set[str]:
    return {p for p in DVC_YAML[stage].get("params", []) if isinstance(p, str)}


def covered(key: str, tracked: set[str]) -> bool:
    return any(key == t or key.startswith(f"{t}.") for t in tracked)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_params_list_exactly_the_params_the_stage_reads(stage):
    """DVC reruns a stage when a tracked param changes, and only then: a param the stage reads but
    does not track would let its outputs go stale (the pickle stage once read every param, through
    the release record's version of croissant.json, and tracked only ``seed`` and ``sample``); a
    param it tracks but never reads reruns it for nothing."""
    path = ROOT / f"{STAGES[stage][0].replace('.', '/')}.py"
    read, tracked = params_read(path), tracked_params(stage)
    assert all(covered(k, tracked) for k in read), f"{stage} reads {sorted(read)}, tracks {tracked}"
    for t in tracked:
        assert any(covered(k, {t}) or covered(t, {k}) for k in read), f"{stage} never reads {t}"


def test_the_params_scan_follows_fields_and_whole_hand_offs(tmp_path):
    stage = tmp_path / "stage.py"
    stage.write_text(
        "def main():\n"
        "    p = params.load()\n"
        "    draw(p.sample.test_counts, p.seed)\n"
        "    train(p.benchmark.epochs)\n"
    )
    assert params_read(stage) == {
        "sample.test_per_class",
        "sample.test_counts",
        "seed",
        "benchmark",
    }
    stage.write_text("def main():\n    p = params.load()\n    describe(p)\n")
    assert params_read(stage) == EVERY_PARAM
    # checked, never read
    stage.write_text("def main():\n    params.load()\n")
    assert params_read(stage) == set()
    stage.write_text("def main():\n    draw(params.load().seed)\n    show(params.load())\n")
    assert params_read(stage) == EVERY_PARAM
    stage.write_text("def main():\n    draw(params.load().seed)\n")
    assert params_read(stage) == {"seed"}
