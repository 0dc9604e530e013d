"""Mutation testing (``make mutate``): which small changes to the code does no unit test notice?

    $ make mutate MUTATE=pipeline/core/storage.py
    mutate: mutmut 3.8.1 in .tools/mutmut, with .venv's packages
    mutate: a clone of HEAD 23535f8 in /tmp/mutate-k2x9/tinydigits
    mutate: leaving out tests/test_verify_data.py::test_directory_deps_...: it fails under mutmut before any mutant
    mutate: pipeline.core.storage: 196 mutants: 188 killed, 8 survived
    mutate: survived pipeline.core.storage.x_zip_stored__mutmut_7
    mutate:   -        if len(data) > _ZIP_MAX or offset > _ZIP_MAX:
    mutate:   +        if len(data) >= _ZIP_MAX or offset > _ZIP_MAX:
    mutate: the report, with every survivor: reports/local/mutation.md

`mutmut <https://mutmut.readthedocs.io>`_ turns each function of the modules named into variants
(a ``<`` made ``<=``, an ``and`` made ``or``, a string or a keyword argument changed) and runs, for
each, the unit tests that reach that function (the unit tier, ``-m "not e2e"``). A variant no test
fails on has *survived*: either a claim no test holds, or a change that makes no difference (an
*equivalent* mutant; ``encoding="utf-8"`` spelt ``"UTF-8"``). Read each survivor and decide which.

It works in a throwaway clone of HEAD (commit first), with mutmut in ``.tools/mutmut`` (installed
from the package index on first use, pinned; it sees ``.venv``'s packages). Two things differ from
``make test`` there:

- some tests fail under mutmut before any mutant: one that starts a Python of its own (a stage,
  the entry point) meets mutmut's rewritten modules outside mutmut, one that checks its interpreter
  is the pinned ``.venv`` runs in mutmut's. A first run without mutants, every test to its end,
  names them; they are left out (and listed), and then the mutants run;
- ``functools.cache`` is switched off in the clone: mutmut runs only the tests that reached a
  function while it measured coverage, and a cached builder (the contract's schemas) is reached by
  the first such test alone, so its mutants would pass for want of tests, not of claims.

Exit 0 with the report; the survivors are findings, not a failure. On 2 cores: about 2 minutes of
test runs before the first mutant, then 3-6 mutants a second (the default modules, 4,292 mutants,
26 minutes; ``pipeline/core/storage.py`` alone, 196, 3.4 minutes).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import sysconfig
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from pipeline.core.errors import PipelineError  # noqa: E402  (the repository's own module)
from pipeline.core.runner import run, run_child  # noqa: E402
from scripts.repro_setup import clone_head  # noqa: E402

MUTMUT = "mutmut==3.8.1"
TOOL = ROOT / ".tools" / "mutmut"
REPORT = ROOT / "reports" / "local" / "mutation.md"
# mutmut's last run, kept when the clone is gone
LOG = REPORT.with_name("mutmut.log")
DEFAULT = [
    "pipeline/schemas.py",
    "pipeline/core/params.py",
    "pipeline/core/fields.py",
    "pipeline/core/storage.py",
    "pipeline/core/environment.py",
    "pipeline/loader/*",
    "pipeline/release/*",
]
# mutmut runs, each leaving out the tests the one before found it cannot run
ATTEMPTS = 10
CACHE = re.compile(r"^[ \t]*@functools\.(?:cache|lru_cache(?:\(.*\))?)[ \t]*\n", re.M)
FAILED = re.compile(r"^FAILED (tests/\S+?\.py::[A-Za-z_0-9]+)", re.M)
RESULT = re.compile(r"^\s*(\S+): (.+?)\s*$")
# mutmut's words
TESTS_FAILED = re.compile(r"failed to (?:collect stats|run clean test)", re.I)
# A mutant name no module has: mutmut runs the tests, then finds nothing to mutate and stops.
PROBE = "pipeline.no_such_module.x_nothing__mutmut_0"
NOTHING_MATCHES = "Filtered for specific mutants, but nothing matches"


def say(message: str) -> None:
    print(f"mutate: {message}", flush=True)


def checked(cmd: list[str], **kwargs) -> str:
    """``cmd``'s stdout; a :class:`PipelineError` naming it and its stderr if it fails."""
    result = run_child(cmd, **kwargs)
    if result.returncode:
        raise PipelineError(f"{' '.join(cmd)} failed: {result.stderr.strip()}")
    return result.stdout


# ---- pure parts ----------------------------------------------------------------------------


def uncached(source: str) -> str:
    """``source`` without its ``@functools.cache`` / ``@functools.lru_cache(...)`` decorator lines."""
    return CACHE.sub("", source)


def failed_tests(output: str) -> list[str]:
    """The tests a pytest run reports as failed, as ``file::function`` (every parametrization)."""
    return sorted(set(FAILED.findall(output)))


def config(
    modules: list[str], deselect: list[str], also_copy: list[str], *, discover: bool = False
) -> str:
    """mutmut's ``setup.cfg``: the modules to mutate, the unit tier without ``deselect``;
    ``discover``: every test runs to the end (mutmut stops at the first failure), so that one run
    names every test that cannot run here."""

    def lines(key: str, values: list[str]) -> str:
        return f"{key}=" + "\n    ".join(values) + "\n"

    args = ["-m", "not e2e", "-p", "no:cacheprovider"] + (["--maxfail=1000000"] if discover else [])
    for test in deselect:
        args += ["--deselect", test]
    return (
        "[mutmut]\n"
        "source_paths=pipeline\n"
        + lines("only_mutate", modules)
        + lines("also_copy", also_copy)
        + lines("pytest_add_cli_args", args)
    )


def parse_results(text: str) -> dict[str, str]:
    """``{mutant: status}`` from ``mutmut results --all true``."""
    return {m.group(1): m.group(2) for m in map(RESULT.match, text.splitlines()) if m}


def module_of(mutant: str) -> str:
    """``pipeline.core.params.x_parse__mutmut_3`` -> ``pipeline.core.params`` (methods too)."""
    return mutant.rsplit(".", 1)[0]


def summary(results: dict[str, str]) -> list[str]:
    """One line per module: its mutants and how many of each outcome."""
    by_module: dict[str, Counter] = {}
    for mutant, status in results.items():
        by_module.setdefault(module_of(mutant), Counter())[status] += 1
    out = []
    for module, counts in sorted(by_module.items()):
        parts = ", ".join(f"{n} {status}" for status, n in counts.most_common())
        out.append(f"{module}: {sum(counts.values())} mutants: {parts}")
    return out


def changed_lines(diff: str) -> list[str]:
    """The removed and added lines of ``mutmut show``'s diff, without its file headers."""
    return [
        line
        for line in diff.splitlines()
        if line[:1] in "-+" and not line.startswith(("---", "+++"))
    ]


# ---- the edges: the tool, the clone, mutmut ------------------------------------------------


def tool() -> Path:
    """``.tools/mutmut/bin/python``, with mutmut installed and ``.venv``'s packages on its path."""
    python = TOOL / "bin" / "python"
    stamp = TOOL / f".{MUTMUT}"
    if not stamp.exists():
        say(f"installing {MUTMUT} into {TOOL.relative_to(ROOT)} (needs the package index)")
        checked([sys.executable, "-m", "venv", "--clear", str(TOOL)])
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        if run_child([*pip, MUTMUT], capture=False).returncode:
            raise PipelineError(
                f"pip could not install {MUTMUT} into {TOOL}; is the index reachable?"
            )
        purelib = checked(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
        ).strip()
        # after mutmut's own packages: .venv's pins for everything else (pytest, numpy, pandera...)
        (Path(purelib) / "zz_tinydigits_venv.pth").write_text(
            sysconfig.get_paths()["purelib"] + "\n"
        )
        stamp.touch()
    say(f"{MUTMUT.replace('==', ' ')} in {TOOL.relative_to(ROOT)}, with .venv's packages")
    return python


def clone(into: Path) -> Path:
    repo = into / "tinydigits"
    # the gate's own: HEAD, detached or not
    head = clone_head(ROOT, repo, who="mutate")
    for path in (repo / "pipeline").rglob("*.py"):
        text = path.read_text()
        if uncached(text) != text:
            path.write_text(uncached(text))
    say(f"a clone of HEAD {head} in {repo}")
    return repo


def mutate(python: Path, repo: Path, modules: list[str], children: int) -> list[str]:
    """Run mutmut, first without mutants and every test run to its end, leaving out the tests it
    cannot run, then for real; the tests left out."""
    also_copy = sorted(
        p.name for p in repo.iterdir() if p.name not in {".git", "pipeline", "tests", "mutants"}
    )
    deselect: list[str] = []
    discovering = True
    for _ in range(ATTEMPTS):
        (repo / "setup.cfg").write_text(config(modules, deselect, also_copy, discover=discovering))
        shutil.rmtree(repo / "mutants", ignore_errors=True)
        cmd = [str(python), "-m", "mutmut", "run", "--max-children", str(children)]
        result = run_child(cmd + ([PROBE] if discovering else []), cwd=repo)
        output = result.stdout + result.stderr
        LOG.parent.mkdir(parents=True, exist_ok=True)
        LOG.write_text(output)
        if TESTS_FAILED.search(output):
            found = [t for t in failed_tests(output) if t not in deselect]
            if not found:
                raise PipelineError(
                    f"mutmut's test run fails, naming no test to leave out; see {LOG.relative_to(ROOT)}"
                )
            for test in found:
                say(f"leaving out {test}: it fails under mutmut before any mutant")
            deselect += found
        elif discovering:
            if NOTHING_MATCHES not in output:
                raise PipelineError(f"mutmut stopped unexpectedly; see {LOG.relative_to(ROOT)}")
            # every test left runs: now the mutants
            discovering = False
        elif result.returncode:
            raise PipelineError(f"mutmut exited {result.returncode}; see {LOG.relative_to(ROOT)}")
        else:
            return deselect
    raise PipelineError(
        f"mutmut's tests still fail after {ATTEMPTS} runs; see {LOG.relative_to(ROOT)}"
    )


def report(python: Path, repo: Path, modules: list[str], deselect: list[str]) -> None:
    listed = run_child([str(python), "-m", "mutmut", "results", "--all", "true"], cwd=repo)
    results = parse_results(listed.stdout)
    if not results:
        raise PipelineError(f"mutmut listed no mutants of {' '.join(modules)}")
    lines = ["# Mutation testing", "", f"Modules: {', '.join(modules)}", ""]
    lines += [f"- {line}" for line in summary(results)] + [""]
    for line in summary(results):
        say(line)
    for mutant in sorted(m for m, status in results.items() if status == "survived"):
        shown = run_child([str(python), "-m", "mutmut", "show", mutant], cwd=repo).stdout
        changes = changed_lines(shown)
        say(f"survived {mutant}")
        for change in changes:
            say(f"  {change}")
        lines += [f"## {mutant}", "", "```diff", *changes, "```", ""]
    if deselect:
        lines += ["Left out (they fail under mutmut before any mutant):", ""]
        lines += [f"- {test}" for test in deselect] + [""]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines))
    say(f"the report, with every survivor: {REPORT.relative_to(ROOT)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules", nargs="*", default=DEFAULT, help="files or globs under pipeline/"
    )
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once")
    args = parser.parse_args()
    for module in args.modules:
        if not module.startswith("pipeline/") or not list(ROOT.glob(module)):
            raise PipelineError(
                f"{module!r} names no file under pipeline/; give paths such as pipeline/core/params.py "
                "or pipeline/release/*"
            )
    python = tool()
    work = Path(tempfile.mkdtemp(prefix="mutate-"))
    try:
        repo = clone(work)
        deselect = mutate(python, repo, args.modules, args.max_children)
        report(python, repo, args.modules, deselect)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(run("mutate", main, hint="interrupted; its clone is removed"))
