"""``python -m pipeline``'s main(), in process: what it prints and returns for each kind of command
line, and what it hands the runner. (tests/test_layout.py runs the real ``python -m pipeline``;
the Ctrl-C paths are tests/test_interrupt_edges.py's.)"""

from __future__ import annotations

import pytest

from pipeline import __main__ as entry
from pipeline.core import environment, params, runner
from pipeline.core.errors import INTERRUPTED, EnvironmentMismatch
from pipeline.loader import reader

USAGE_HEAD = [
    "usage: python -m pipeline COMMAND [ARGS]",
    "",
    "stages (dvc.yaml runs them):",
    "  params          check the whole params.yaml and print the counts",
]
EVERY_COMMAND = (
    "params, fetch, sample, normalize, split, pickle, benchmark_sweep, benchmark, "
    "load, diff, review, release, tags"
)


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_prints_the_usage_on_stdout_and_succeeds(flag, capsys):
    assert entry.main([flag]) == 0
    out, err = capsys.readouterr()
    assert (out.splitlines()[:4], err) == (USAGE_HEAD, "")
    assert out == entry.usage() + "\n"


def test_no_command_prints_the_usage_on_stderr_and_fails_with_2(capsys):
    assert entry.main([]) == 2
    assert capsys.readouterr() == ("", entry.usage() + "\n")


def test_the_usage_lists_each_command_once_under_its_kind():
    lines = entry.usage().splitlines()
    tools = lines.index("tools:")
    assert lines[2] == "stages (dvc.yaml runs them):" and lines[tools - 1] == ""
    assert lines[3 : tools - 1] == [f"  {n:<16}{text}" for n, (_, text) in entry.STAGES.items()]
    assert lines[tools + 1 :] == [f"  {n:<16}{text}" for n, (_, text) in entry.TOOLS.items()]


def test_an_unknown_command_fails_with_2_naming_every_valid_one(capsys):
    assert entry.main(["fecth", "x"]) == 2
    assert capsys.readouterr() == (
        "",
        f"python -m pipeline: error: unknown command 'fecth'; one of: {EVERY_COMMAND}\n",
    )


def test_a_stage_given_arguments_fails_with_2_naming_them(capsys):
    assert entry.main(["fetch", "now", "please"]) == 2
    assert capsys.readouterr() == (
        "",
        "fetch: error: a stage takes no arguments (its settings are in params.yaml), got now please\n",
    )
    # --help is the only argument a stage takes, on its own
    assert entry.main(["fetch", "--help", "now"]) == 2


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_a_stages_help_says_what_it_does_and_that_dvc_runs_it(flag, monkeypatch, capsys):
    # nothing runs, not even the environment check
    monkeypatch.setattr(environment, "check", pytest.fail)
    assert entry.main(["split", flag]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out == (
        "usage: python -m pipeline split\n\n"
        "Order each split and check it. A stage of dvc.yaml: it takes no arguments (its\n"
        "settings are in params.yaml), and `dvc repro` runs it when its inputs change\n"
        "(docs/pipeline.md).\n"
    )


def test_an_environment_mismatch_fails_with_1_before_the_command_loads(monkeypatch, capsys):
    def mismatch():
        raise EnvironmentMismatch("numpy 2.0.0 is installed but requirements.lock pins 2.3.5")

    monkeypatch.setattr(environment, "check", mismatch)
    # nothing runs
    monkeypatch.setattr(runner, "run", pytest.fail)
    assert entry.main(["load", "somewhere"]) == 1
    assert capsys.readouterr() == (
        "",
        "load: error: numpy 2.0.0 is installed but requirements.lock pins 2.3.5\n",
    )


@pytest.fixture
def handed(monkeypatch, ctrl_c_handler_kept):
    """What main() hands the runner, which returns 7 instead of running it."""
    calls = []
    monkeypatch.setattr(environment, "check", lambda: None)
    monkeypatch.setattr(runner, "run", lambda *args, **kw: calls.append((args, kw)) or 7)
    return calls


def test_a_stage_runs_its_modules_main_with_the_stage_hint(handed):
    assert entry.main(["params"]) == 7
    [((command, main), kw)] = handed
    assert (command, main, kw) == (
        "params",
        params.main,
        {"hint": INTERRUPTED},
    )


def test_a_tool_runs_its_modules_main_with_its_arguments_and_its_own_hint(handed, monkeypatch):
    seen = []
    monkeypatch.setattr(reader, "main", lambda argv: seen.append(argv) or 5)
    assert entry.main(["load", "some/dir", "--x"]) == 7
    [((command, main), kw)] = handed
    assert (command, kw) == ("load", {"hint": reader.INTERRUPTED_HINT})
    assert (main(), seen) == (5, [["some/dir", "--x"]])
