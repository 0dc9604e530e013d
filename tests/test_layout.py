"""The floor plan holds: few modules at pipeline/'s top level, one entry point that lists and runs
every command, and a pyproject.toml that packages every room."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import shlex
import subprocess
import sys
import tomllib

from pipeline.__main__ import COMMANDS, STAGES, TOOLS
from tests.helpers import ROOT

PIPELINE = ROOT / "pipeline"


def test_the_top_level_holds_the_entry_the_stages_the_contract_and_the_algorithm():
    top = sorted(p.name for p in PIPELINE.glob("*.py"))
    assert top == [
        "__init__.py",
        "__main__.py",
        "algorithm.py",
        "fetch.py",
        "normalize.py",
        "pickling.py",
        "sample.py",
        "schemas.py",
        "split.py",
    ]
    assert {m for m, _ in STAGES.values() if m.count(".") == 1} == {
        f"pipeline.{p[:-3]}"
        for p in top
        if p[:-3] in {"fetch", "sample", "normalize", "split", "pickling"}
    }


def test_only_the_entry_point_has_a_main_block():
    blocks = [
        p.relative_to(ROOT).as_posix()
        for p in PIPELINE.rglob("*.py")
        if "__pycache__" not in p.parts and 'if __name__ == "__main__"' in p.read_text()
    ]
    assert blocks == ["pipeline/__main__.py"]
    assert not list(PIPELINE.rglob("__main__.py"))[1:], (
        "a package other than pipeline/ has a __main__.py"
    )


def test_every_command_is_listed_by_help_and_has_a_main():
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.startswith("  ")}
    assert listed == set(COMMANDS) and not set(STAGES) & set(TOOLS)
    for name, (module, _) in COMMANDS.items():
        main = importlib.import_module(module).main
        takes = len(inspect.signature(main).parameters)
        assert takes == (0 if name in STAGES else 1), f"{module}.main: stages take none, tools argv"


def test_an_unknown_command_names_the_valid_ones():
    out = subprocess.run(
        [sys.executable, "-m", "pipeline", "fecth"], cwd=ROOT, capture_output=True, text=True
    )
    assert (
        out.returncode == 2
        and "unknown command 'fecth'; one of: params, fetch, sample" in out.stderr
    )


def test_pyproject_packages_every_package_and_the_card_template():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {
        p.parent.relative_to(ROOT).as_posix().replace("/", ".")
        for p in PIPELINE.rglob("__init__.py")
    }
    assert sorted(setuptools["packages"]) == sorted(packages)
    for package, names in setuptools["package-data"].items():
        for name in names:
            assert (ROOT / package.replace(".", "/") / name).is_file(), f"{package}: {name}"


def test_no_comment_hangs_on_a_closing_bracket():
    """A comment that explains a statement sits on its own line above it: a comment on a line that
    only closes brackets is what the formatter leaves after splitting a statement to keep it."""
    hanging = re.compile(r"^\s*[\)\]\}]+[,:]?\s+#(?!\s*(noqa|type:|pragma|fmt:))")
    # or a lone value wrapped in brackets to keep its comment: `x = (\n    0.05  # why\n)`
    wrapped = re.compile(r"[=(\[{]\s*\n[^\n#]*\S  # [^\n]*\n\s*[\)\]\}]+[,:]?\s*\n")
    found = []
    for folder in ("pipeline", "scripts", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            found += [
                f"{path.relative_to(ROOT)}:{n}"
                for n, line in enumerate(text.splitlines(), 1)
                if hanging.match(line)
            ]
            found += [
                f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 2}"
                for m in wrapped.finditer(text)
            ]
    assert not found, f"move these comments above their statements: {found}"


def test_helpers_live_in_tests_helpers_and_conftest_holds_only_fixtures():
    importers = [
        p.name
        for p in (ROOT / "tests").glob("*.py")
        if re.search(
            r"^\s*(from tests\.conftest import|import tests\.conftest)", p.read_text(), re.M
        )
    ]
    assert importers == [], "import helpers from tests.helpers, not tests.conftest"
    tree = ast.parse((ROOT / "tests/conftest.py").read_text())
    plain = [
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        and not any("fixture" in ast.unparse(d) for d in getattr(node, "decorator_list", []))
    ]
    assert plain == [], f"conftest.py holds only fixtures; move {plain} to tests/helpers.py"


def test_output_cut_short_by_its_reader_is_not_an_error():
    # `| true` closes the pipe before Python has started: printing the help must not become a traceback
    out = subprocess.run(
        # a checkout may sit in 'My Courses/'
        f"{shlex.quote(sys.executable)} -m pipeline --help | true",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0 and out.stderr == "", out.stderr
