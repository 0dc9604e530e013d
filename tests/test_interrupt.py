"""Ctrl-C: a real SIGINT to the whole process group, as a terminal sends it, at three points of a
``dvc repro`` (a data stage, the sweep's fork workers, the benchmark's forkserver workers) and once
under ``make repro``. Each time: one line from the stage, no traceback from any process, nothing
half-written, and the next ``dvc repro`` finishes with a clean ``git status``.

Each interrupt waits for an event, never a fixed sleep: the mark the stage hook (tests/helpers.py) makes just
before a stage replaces its output, or the stage's worker processes appearing in the process group.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from pipeline.benchmark.parallel import worker_count
from pipeline.core.runner import INTERRUPTED
from tests.helpers import (
    BENCHMARK_DEFAULTS,
    Pause,
    Process,
    ctrl_c,
    link_venv,
    run,
    update_params,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)"),
]


def assert_one_line_and_recovers(repo: Path, stage: str, status: int, output: str) -> None:
    assert status != 0, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    # no half-trained model went on
    assert "Training interrupted by user" not in output, output
    assert [line for line in output.splitlines() if "interrupted;" in line] == [
        f"{stage}: {INTERRUPTED}"
    ], output
    assert not list(repo.glob("datasets/*/.*.tmp")), "a temp file was left behind"
    run(["dvc", "repro"], repo, timeout=1800)
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


@pytest.fixture(scope="module")
def repo(module_copy):
    return module_copy


@pytest.mark.parametrize("shell", [None, "/bin/sh"], ids=["the user's shell", "/bin/sh"])
def test_ctrl_c_in_a_data_stage(repo, shell):
    """DVC runs a stage's command in ``$SHELL``, or ``/bin/sh`` where it is unset (cron, CI,
    ``env -i``). Debian's ``/bin/sh`` (dash) died of Ctrl-C at once, so DVC reported the stage
    killed (-2) while it was still cleaning up; ``exec`` in dvc.yaml makes the shell the stage."""
    pause = Pause.before_replacing(repo.parent / "pause", "datasets/interim/sample.npz")
    status, output = ctrl_c(
        repo,
        ["dvc", "repro", "--force", "--single-item", "sample"],
        lambda out, _: pause.mark.exists(),
        {**pause.env(), **({"SHELL": shell} if shell else {})},
    )
    # DVC waited for the stage and got its exit status
    assert "failed to run: exec python3 -m pipeline sample, exited with 130" in output, output
    assert_one_line_and_recovers(repo, "sample", status, output)


def sweep_workers_train(_, procs: list[Process]) -> bool:
    """The sweep's Python process and at least one worker forked from it (they share its command
    line). The shell DVC starts the stage in names the stage too until it execs Python, so it is
    not counted: with it, the signal could land in Python's own start-up, which no program can
    catch (docs/faults.md)."""
    pythons = [p.cmd for p in procs if "python" in Path(p.cmd.split(" ", 1)[0]).name]
    return sum("pipeline benchmark_sweep" in c for c in pythons) >= 2


def test_ctrl_c_while_the_sweep_trains_on_fork_workers(repo):
    status, output = ctrl_c(
        repo, ["dvc", "repro", "--force", "--single-item", "benchmark_sweep"], sweep_workers_train
    )
    assert_one_line_and_recovers(repo, "benchmark_sweep", status, output)


def forkserver(processes: int) -> Callable[[str, list[Process]], bool]:
    """The forkserver is up (1: likely still importing scikit-learn); or (2) every worker it forks
    for the benchmark has started: it has unpickled its start-up state and run the pool's
    initializer, whose lifeline thread makes it a process of two threads."""
    if processes == 1:
        return lambda _, procs: any("multiprocessing.forkserver" in p.cmd for p in procs)
    # the pool runs min(cores, seeds) workers (pipeline.benchmark.parallel.run_tasks)
    workers = min(worker_count(), BENCHMARK_DEFAULTS.seeds)
    return lambda _, procs: workers_started(workers, procs)


def workers_started(n: int, procs: list[Process]) -> bool:
    """At least ``n`` of ``procs`` were forked by a forkserver and run two threads or more."""
    servers = {p.pid for p in procs if "multiprocessing.forkserver" in p.cmd}
    return sum(p.parent in servers and p.threads >= 2 for p in procs) >= n


@pytest.mark.parametrize("processes", [1, 2], ids=["forkserver importing", "workers training"])
@pytest.mark.skipif(worker_count() < 2, reason="one core: the benchmark trains in its own process")
def test_ctrl_c_in_the_benchmark_with_its_forkserver(repo, processes):
    # 60 per digit is no sweep point, so the benchmark trains its own runs, from a forkserver
    update_params(repo, sample={"train_per_class": 60})
    try:
        run(["dvc", "repro", "pickle"], repo, timeout=1800)
        status, output = ctrl_c(
            repo, ["dvc", "repro", "--force", "--single-item", "benchmark"], forkserver(processes)
        )
        assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
        assert [line for line in output.splitlines() if "interrupted;" in line] == [
            f"benchmark: {INTERRUPTED}"
        ], output
        assert status != 0 and not list(repo.glob("datasets/*/.*.tmp")), output
        # the variant finishes
        run(["dvc", "repro"], repo, timeout=1800)
    finally:
        run(["git", "checkout", "--", "params.yaml"], repo)
    run(["dvc", "repro"], repo, timeout=1800)
    assert run(["git", "status", "--porcelain"], repo).stdout == ""


def test_ctrl_c_under_make_repro(repo):
    link_venv(repo)
    # benchmark_sweep must run, not be restored: its output gone, from the cache too
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    (md5,) = [o["md5"] for o in lock["stages"]["benchmark_sweep"]["outs"]]
    (repo / ".dvc/cache/files/md5" / md5[:2] / md5[2:]).unlink()
    (repo / "datasets/interim/sweep.npz").unlink()
    shutil.rmtree(repo / ".dvc/cache/runs")
    status, output = ctrl_c(
        repo,
        ["make", "-o", ".venv/.installed", "repro"],
        sweep_workers_train,
    )
    assert_one_line_and_recovers(repo, "benchmark_sweep", status, output)


def test_ctrl_c_under_the_original_cards_command(repo):
    """`python3 datasets/tinydigits/create_tinydigits.py`, the original card's command, run by the
    machine's python3: it runs .venv's dvc, and Ctrl-C reaches both. The script waits for dvc and
    passes on its status (it used to end in a KeyboardInterrupt traceback, exit 1);
    tests/test_interrupt_edges.py has its other cases, with a stand-in dvc."""
    if not Path("/usr/bin/python3").exists():
        pytest.skip("no /usr/bin/python3")
    if not (repo / ".venv").exists():
        link_venv(repo)
    pause = Pause.before_replacing(repo.parent / "pause", "datasets/interim/sample.npz")
    status, output = ctrl_c(
        repo,
        ["python3", "datasets/tinydigits/create_tinydigits.py", "--force", "-s", "sample"],
        lambda out, _: pause.mark.exists(),
        {**pause.env(), "PATH": "/usr/bin:/bin"},
    )
    # DVC's own status for a stage that failed
    assert status == 255, output
    assert_one_line_and_recovers(repo, "sample", status, output)
